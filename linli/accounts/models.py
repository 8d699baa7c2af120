"""Staff accounts, their role and the areas they answer for."""

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area
from linli.core.roles import Role


class AccountAction(models.TextChoices):
    """What accounts writes to the audit log (registered in AccountsConfig.ready)."""

    PERMISSION_CHANGE = "permission_change", _("Changed permissions")
    PASSWORD_SET = "password_set", _("Set a password")
    USER_RENAMED = "user_renamed", _("Renamed an account")


class User(AbstractUser):
    audit_type = "user"  # how the audit log names a staff account
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, blank=True)
    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    work_phone = models.CharField(_("work phone"), max_length=20, blank=True)
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
