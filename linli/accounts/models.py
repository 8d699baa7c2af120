"""Staff accounts, their role and the areas they answer for."""

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area
from linli.core.jurisdiction import JurisdictionQuerySet
from linli.core.roles import Role


class AccountAction(models.TextChoices):
    """What accounts writes to the audit log (registered in AccountsConfig.ready)."""

    PERMISSION_CHANGE = "permission_change", _("Changed permissions")
    PASSWORD_SET = "password_set", _("Set a password")
    USER_RENAMED = "user_renamed", _("Renamed an account")
    STAFF_IMPORTED = "staff_imported", _("Imported staff accounts")
    SIGN_IN_CODE_SENT = "sign_in_code_sent", _("Sent a first sign-in code")
    FIRST_SIGN_IN = "first_sign_in", _("Signed in for the first time")
    STAFF_DEACTIVATED = "staff_deactivated", _("Deactivated staff accounts")


class User(AbstractUser):
    audit_type = "user"  # how the audit log names a staff account
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, blank=True)
    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    work_phone = models.CharField(_("work phone"), max_length=20, blank=True)
    # The staff sheet that created the account: a deployment's accounts end together.
    import_batch = models.ForeignKey(
        "StaffImportBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accounts",
        verbose_name=_("staff import"),
    )
    areas = models.ManyToManyField(
        Area,
        through="AreaAssignment",
        through_fields=("user", "area"),
        related_name="staff",
        verbose_name=_("areas"),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    @cached_property
    def jurisdiction_paths(self) -> tuple[str, ...]:
        """The path prefixes of the areas this user answers for (a superuser: the whole tree)."""
        if self.is_superuser:
            return ("",)
        return tuple(
            AreaAssignment.objects.filter(user=self)
            .order_by("area__path")
            .values_list("area__path", flat=True)
        )


class AreaAssignment(models.Model):
    """A user answers for an area and everything below it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="assignments")
    assigned_at = models.DateTimeField(_("assigned at"), auto_now_add=True)
    assigned_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("area assignment")
        verbose_name_plural = _("area assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "area"], name="assignment_user_area_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.area}"


class StaffImportBatch(models.Model):
    """One staff sheet imported: whose it was, where, and when its accounts were ended."""

    jurisdiction_path = "area_path"
    audit_type = "staff_import"

    file_name = models.CharField(_("file"), max_length=255)
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("imported at"), auto_now_add=True)
    created_count = models.PositiveIntegerField(_("accounts created"), default=0)
    deactivated_at = models.DateTimeField(_("deactivated at"), null=True, blank=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("staff import")
        verbose_name_plural = _("staff imports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def audit_label(self) -> str:
        return self.file_name


class SignInCode(models.Model):
    """A one-time code sent by SMS with which a new account sets its own password.

    Only its hash is kept; it works once, for a limited time and a few tries."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sign_in_codes")
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("sign-in code")
        verbose_name_plural = _("sign-in codes")

    def __str__(self) -> str:
        return f"{self.user} · {self.created_at:%Y-%m-%d %H:%M}"  # never the code
