"""Personas shared by every test: two communities under one street, and who works where.

- community A (长延堡社区): grid worker `grid_a`, community lead `lead_a`, data steward `steward_a`
- community B (大雁塔社区): grid worker `grid_b` and residents nobody from A may see
- street officer `street` over both; volunteer `volunteer_a` in A
"""

import os
from dataclasses import dataclass
from datetime import date

import pytest

os.environ.setdefault("LINLI_ENV", "test")


@dataclass
class World:
    city: object
    district: object
    street: object
    a: object  # CommunitySketch
    b: object
    grid_a: object
    lead_a: object
    steward_a: object
    volunteer_a: object
    grid_b: object
    street_officer: object
    resident_a: object  # 张三丰 in A
    resident_a2: object  # 李秀英 in A, same household
    resident_b: object  # 王五 in B


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Argon2 is deliberately slow; tests hash demo passwords with a fast hasher instead."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def private_media_root(settings, tmp_path):
    """Uploads made by a test land in its own folder, never in ./var (the browser tests' live
    server runs in this process, so it sees the setting too)."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def empty_sms_outbox():
    """Every test starts and ends with an empty in-memory SMS outbox."""
    from linli.adapters import sms

    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def world(db) -> World:
    from linli.core.roles import Role
    from linli.demo import factories as f
    from linli.registry.models import Relation, VulnerableTag

    city, district, street = f.make_admin_chain()
    a = f.make_community(street=street, name="长延堡社区", code="610113001001")
    b = f.make_community(street=street, name="大雁塔社区", code="610113001002", compound="曲江花园")
    resident_a = f.make_resident(
        dwelling=a.dwellings[0],
        name="张三丰",
        phone="13812345678",
        sequence=123,
        tags=[VulnerableTag.DIALYSIS],
    )
    resident_a2 = f.make_resident(
        dwelling=a.dwellings[0],
        name="李秀英",
        household=resident_a.household,
        relation=Relation.SPOUSE,
        birth=date(1940, 2, 3),
        sequence=224,
        phone="13900001111",
        tags=[VulnerableTag.NO_SMARTPHONE],
    )
    resident_b = f.make_resident(
        dwelling=b.dwellings[0], name="王五", phone="13698765432", sequence=555
    )
    return World(
        city=city,
        district=district,
        street=street,
        a=a,
        b=b,
        grid_a=f.make_staff(username="grid_a", role=Role.GRID_WORKER, areas=[a.grid]),
        lead_a=f.make_staff(username="lead_a", role=Role.COMMUNITY_LEAD, areas=[a.community]),
        steward_a=f.make_staff(username="steward_a", role=Role.DATA_STEWARD, areas=[a.community]),
        volunteer_a=f.make_staff(username="volunteer_a", role=Role.VOLUNTEER, areas=[a.community]),
        grid_b=f.make_staff(username="grid_b", role=Role.GRID_WORKER, areas=[b.grid]),
        street_officer=f.make_staff(username="street", role=Role.STREET_OFFICER, areas=[street]),
        resident_a=resident_a,
        resident_a2=resident_a2,
        resident_b=resident_b,
    )


@pytest.fixture
def client_for(client):
    """Returns a function that logs the test client in as a persona."""

    def login(user):
        client.force_login(user)
        return client

    return login
