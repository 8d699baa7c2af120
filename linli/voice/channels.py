"""The robot's PhoneChannel: sending a phone contact means queueing a call for the dialer.

Registered over the screening app's default PhoneChannel in VoiceConfig.ready(), so the
screening pages and services reach the robot through the channel registry without importing
this app (voice sits above screening).
"""

from django.utils import timezone

from linli.screening.channels import PhoneChannel
from linli.screening.contact import Dispatch
from linli.screening.models import CampaignTarget, ChannelCode
from linli.voice.services.queue import queue_call


class RobotPhoneChannel(PhoneChannel):
    """send() queues (or brings forward) the target's call job; the dialer places the call
    within the robot's calling hours. collect() is the shared record_attempt."""

    def send(self, *, target: CampaignTarget) -> Dispatch | None:
        job = queue_call(target=target)
        if job is None:
            return None
        return Dispatch(
            channel=ChannelCode.PHONE.value,
            target_id=target.pk,
            reference=f"job:{job.pk}",
            at=timezone.now(),
        )
