"""The append-only audit log: who saw, exported or changed what, when and why."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.audit.actions import action_label
from linli.core.jurisdiction import JurisdictionQuerySet


class AuditAction(models.TextChoices):
    """The actions audit records itself, and the verbs every app shares (reveal, export).

    Each app registers its own actions (linli.audit.actions); these are registered by audit."""

    LOGIN = "login", _("Logged in")
    LOGIN_FAILED = "login_failed", _("Failed log-in")
    LOGOUT = "logout", _("Logged out")
    REVEAL = "reveal", _("Revealed a full value")
    EXPORT = "export", _("Exported data")


class AuditEvent(models.Model):
    jurisdiction_path = "area_path"

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Accounts with a history are deactivated, never deleted: the log must keep its actors.
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("user"),
    )
    # Kept as text too, so the record outlives a deleted account.
    actor_username = models.CharField(_("user name"), max_length=150)
    # A code registered by the app that records it (linli.audit.actions), not a fixed choice
    # list: audit knows nothing of the apps above it.
    action = models.CharField(_("action"), max_length=32)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_label = models.CharField(_("object"), max_length=200, blank=True)
    field = models.CharField(_("field"), max_length=64, blank=True)
    purpose = models.CharField(_("purpose"), max_length=64, blank=True)
    # The area of the subject (or of the actor for log-ins): data stewards see their subtree.
    area_path = models.CharField(max_length=64, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor", "-at"], name="audit_actor_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username} {self.action}"

    def get_action_display(self) -> str:
        return action_label(self.action)
