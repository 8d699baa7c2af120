"""Passes (出入证): signing keys, policies per area, passes, and the revocation list."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area
from linli.core.jurisdiction import JurisdictionQuerySet
from linli.core.sensitivity import Sensitivity
from linli.registry.models import Household, Person

P, PUB = Sensitivity.PERSONAL, Sensitivity.PUBLIC


class PassAction(models.TextChoices):
    """What passes write to the audit log (registered in PassesConfig.ready)."""

    CREATE_KEY = "pass_create_key", _("Created a pass signing key")
    ROTATE_KEY = "pass_rotate_key", _("Rotated the pass signing key")
    RETIRE_KEY = "pass_retire_key", _("Retired a pass signing key")
    CREATE_POLICY = "pass_create_policy", _("Created a pass policy")
    ISSUE = "pass_issue", _("Issued a pass")
    ISSUE_AREA = "pass_issue_area", _("Issued passes to an area's households")
    REISSUE = "pass_reissue", _("Reissued a pass")
    CHANGE_HOLDER = "pass_change_holder", _("Changed who holds a household's pass")
    REVOKE = "pass_revoke", _("Revoked a pass")
    REVOKE_MONITORING = "pass_revoke_monitoring", _("Revoked passes: holder under monitoring")


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


class PassKind(models.TextChoices):
    # The values travel in tokens as one byte (linli.passes.tokens.KIND_CODES).
    HOUSEHOLD = "household", _("household shopping pass")
    STAFF = "staff", _("staff pass")
    MEDICAL = "medical", _("medical pass")
    VEHICLE = "vehicle", _("vehicle pass")


class PassPolicy(models.Model):
    """What passes an area issues: their kind, validity and usage rules.

    A rule of 0 means "no such rule". The household rule reads "one member of each household
    may go out once every `out_every_days` days, for at most `out_max_hours` hours"; the
    medical rule "on these weekdays, between these hours"."""

    jurisdiction_path = "area_path"
    audit_type = "pass_policy"

    area = models.ForeignKey(
        Area, on_delete=models.PROTECT, related_name="+", verbose_name=_("area")
    )
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=16, choices=PassKind.choices)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until (last day)"))
    one_per_household = models.BooleanField(_("one pass per household"), default=True)
    out_every_days = models.PositiveSmallIntegerField(_("one exit every (days)"), default=0)
    out_max_hours = models.PositiveSmallIntegerField(_("at most (hours out)"), default=0)
    medical_weekdays = models.PositiveSmallIntegerField(default=0)  # bit 0 Monday … 6 Sunday
    medical_from_hour = models.PositiveSmallIntegerField(_("from hour"), default=0)
    medical_to_hour = models.PositiveSmallIntegerField(_("to hour"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("pass policy")
        verbose_name_plural = _("pass policies")
        ordering = ["area_path", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        return self.name


class PassStatus(models.TextChoices):
    ACTIVE = "active", _("valid")
    REVOKED = "revoked", _("revoked")


class RevokeReason(models.TextChoices):
    LEAD = "lead", _("revoked by the community")
    MONITORING = "monitoring", _("holder under home quarantine or monitoring")
    REISSUED = "reissued", _("replaced by a new pass")
    HOLDER_CHANGED = "holder_changed", _("another household member holds the pass")


class Pass(models.Model):
    """One pass: who holds it, under which policy, and the signed token its QR code shows."""

    jurisdiction_path = "area_path"
    audit_type = "pass"

    field_sensitivity = {
        "id": PUB,
        "policy": PUB,
        "holder": P,
        "household": P,
        "area_path": P,
        "status": PUB,
        "key_id": PUB,
        "token": P,
        "valid_from": PUB,
        "valid_until": PUB,
        "issued_at": PUB,
        "issued_by": PUB,
        "revoked_at": PUB,
        "revoked_by": PUB,
        "revoke_reason": PUB,
        "revoke_note": P,
        "replaces": PUB,
    }

    policy = models.ForeignKey(PassPolicy, on_delete=models.PROTECT, related_name="passes")
    holder = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The holder's area path: the grid worker of their building sees the pass.
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=PassStatus.choices, default=PassStatus.ACTIVE
    )
    key_id = models.PositiveIntegerField(editable=False)
    token = models.TextField(editable=False)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    issued_at = models.DateTimeField(auto_now_add=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.CharField(max_length=16, choices=RevokeReason.choices, blank=True)
    revoke_note = models.CharField(max_length=200, blank=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("pass")
        verbose_name_plural = _("passes")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["policy", "household", "status"], name="pass_policy_household"),
            models.Index(fields=["holder", "status"], name="pass_holder_status"),
        ]

    def __str__(self) -> str:
        return f"pass {self.pk}"

    @property
    def audit_label(self) -> str:
        return f"No. {self.pk}"

    @classmethod
    def audit_url(cls, object_id: int) -> str:
        return reverse("passes:pass", args=[object_id])


class PassRevocation(models.Model):
    """One entry of the revocation list; its id is the list's version, so a gate asks for
    the entries after the last id it applied."""

    jurisdiction_path = "area_path"

    revoked_pass = models.OneToOneField(Pass, on_delete=models.PROTECT, related_name="+")
    valid_until = models.DateTimeField()  # the pass's: after it the entry no longer matters
    area_path = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["valid_until"], name="revocation_valid_until")]

    def __str__(self) -> str:
        return f"revocation {self.pk}"
