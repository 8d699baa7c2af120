"""Passes (出入证): signing keys, policies per area, passes, and the revocation list."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PassAction(models.TextChoices):
    """What passes write to the audit log (registered in PassesConfig.ready)."""

    CREATE_KEY = "pass_create_key", _("Created a pass signing key")
    ROTATE_KEY = "pass_rotate_key", _("Rotated the pass signing key")
    RETIRE_KEY = "pass_retire_key", _("Retired a pass signing key")


class KeyStatus(models.TextChoices):
    # New passes are signed with the one active key; a retiring key signs nothing new but its
    # passes verify until they expire; a retired key's passes are refused at once.
    ACTIVE = "active", _("active")
    RETIRING = "retiring", _("retiring")
    RETIRED = "retired", _("retired")


class SigningKey(models.Model):
    """An Ed25519 key passes are signed with. The private half is sealed with
    LINLI_DATA_KEY (linli.core.identifiers); the public half is published to gates."""

    audit_type = "pass_signing_key"

    key_id = models.PositiveIntegerField(_("key id"), unique=True)
    public_key = models.CharField(max_length=64, editable=False)  # base64 of 32 raw bytes
    private_key_sealed = models.TextField(editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=KeyStatus.choices, default=KeyStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("pass signing key")
        verbose_name_plural = _("pass signing keys")
        ordering = ["key_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="active"),
                name="passes_one_active_key",
            ),
        ]

    def __str__(self) -> str:
        return f"key {self.key_id}"

    @property
    def audit_label(self) -> str:
        return str(self.key_id)
