"""Make the audit log append-only in the database itself, not only in the application.

On PostgreSQL a trigger refuses UPDATE and DELETE of audit rows (TRUNCATE, used by test
teardown and an operator's deliberate retention purge, stays possible for the table owner).
SQLite (embedded, single machine) relies on the application, which never updates or deletes.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION linli_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (%% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION linli_audit_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS linli_audit_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_audit_log")]
    operations = [migrations.RunPython(forward, backward)]
