"""manage.py pass_keys: list, rotate and retire from a shell, audited under --by."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from linli.core.roles import Role
from linli.demo import factories as f
from linli.passes.models import KeyStatus, SigningKey
from linli.passes.services import keys as key_services


def run(*args) -> str:
    out = StringIO()
    call_command("pass_keys", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_rotate_and_retire_from_the_shell(world):
    f.make_staff(username="city", role=Role.CITY_OFFICER, areas=[world.city])
    key_services.current_signing_key()
    assert run("--rotate", "--by", "city").splitlines()[1].startswith("2\tactive")
    run("--retire", "1", "--by", "city")
    assert SigningKey.objects.get(key_id=1).status == KeyStatus.RETIRED


@pytest.mark.django_db
def test_refuses_without_a_keeper(world):
    """No --by, an unknown user, a lead, or an unknown key id: refused, nothing changes."""
    key_services.current_signing_key()
    for args in [("--rotate",), ("--rotate", "--by", "nobody"), ("--rotate", "--by", "lead_a")]:
        with pytest.raises(CommandError):
            run(*args)
    f.make_staff(username="city", role=Role.CITY_OFFICER, areas=[world.city])
    with pytest.raises(CommandError):
        run("--retire", "9", "--by", "city")
    assert list(SigningKey.objects.values_list("key_id", "status")) == [(1, "active")]
