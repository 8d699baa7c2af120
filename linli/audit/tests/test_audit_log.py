import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from linli.audit.models import AuditAction, AuditEvent
from linli.registry.services.people import reveal_person_field


def test_steward_sees_reveals_in_their_jurisdiction_only(world, client_for):
    """A data steward of A sees who revealed what in A, with the purpose, but nothing of B."""
    reveal_person_field(
        person=world.resident_a, field="id_number", purpose="verify_identity", by=world.grid_a
    )
    reveal_person_field(
        person=world.resident_b, field="phone", purpose="contact_resident", by=world.grid_b
    )
    body = client_for(world.steward_a).get(reverse("audit:events")).content.decode()
    assert "grid_a" in body
    assert "核实身份" in body
    assert "grid_b" not in body


def test_other_roles_cannot_read_the_audit_log(world, client_for):
    """Grid workers and community leads get 403 on the audit log."""
    assert client_for(world.grid_a).get(reverse("audit:events")).status_code == 403


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_audit_rows_cannot_be_changed_or_deleted_in_the_database(world):
    """On PostgreSQL a trigger refuses UPDATE and DELETE of audit events."""
    event = AuditEvent.objects.create(actor_username="x", action=AuditAction.EXPORT)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(purpose="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).purpose == ""
