"""Lists the pass signing keys, rotates them, or retires one at once.

    manage.py pass_keys                       # key id, status, created, retired
    manage.py pass_keys --rotate --by city    # a new active key; the old one retires slowly
    manage.py pass_keys --retire 3 --by city  # key 3's passes are refused from now on

`--by` names the user who answers for the change (a city officer or a superuser): the audit
log records them, as it does any change made on a page.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext_lazy as _

from linli.core.errors import both_languages
from linli.passes.models import SigningKey
from linli.passes.services import keys as key_services

NEEDS_BY = _("Name the user who answers for the change with --by")
NO_SUCH_USER = _("No active user of that name")
NO_SUCH_KEY = _("No key with that id")


class Command(BaseCommand):
    help = "List, rotate or retire the keys passes are signed with."

    def add_arguments(self, parser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--rotate", action="store_true", help="Make a new active key.")
        action.add_argument("--retire", type=int, metavar="KEY_ID", help="Retire a key now.")
        parser.add_argument("--by", default="", metavar="USERNAME", help="Who answers for it.")

    def handle(self, *args, rotate: bool, retire: int | None, by: str, **options) -> None:
        if rotate or retire is not None:
            user = self._user(by)
            try:
                if rotate:
                    key_services.rotate_signing_key(by=user)
                else:
                    key = SigningKey.objects.filter(key_id=retire).first()
                    if key is None:
                        raise CommandError(both_languages(NO_SUCH_KEY))
                    key_services.retire_signing_key(key=key, by=user)
            except PermissionDenied as error:
                raise CommandError(both_languages(error.args[0] if error.args else "")) from None
        for key in SigningKey.objects.order_by("key_id"):
            retired = key.retired_at.isoformat(timespec="seconds") if key.retired_at else ""
            self.stdout.write(
                f"{key.key_id}\t{key.status}\t"
                f"{key.created_at.isoformat(timespec='seconds')}\t{retired}".rstrip()
            )

    def _user(self, username: str):
        if not username:
            raise CommandError(both_languages(NEEDS_BY))
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(both_languages(NO_SUCH_USER))
        return user
