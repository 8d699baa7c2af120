"""The bell: marking one's own notifications read."""

from datetime import datetime

from linli.core import clock
from linli.core.actors import Actor
from linli.workorders.models import Notification


def mark_notifications_read(*, by: Actor, now: datetime | None = None) -> int:
    """Marks every unread notification of `by` read. Returns how many."""
    return Notification.objects.filter(user_id=by.pk, read_at__isnull=True).update(
        read_at=now or clock.now()
    )
