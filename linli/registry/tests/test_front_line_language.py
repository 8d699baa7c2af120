"""Issue 12, items 9 and 10 on the registry's pages: one language, and why a pair waits."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from linli.registry import selectors
from linli.registry.models import ImportBatch, MatchReview
from linli.registry.services import imports as import_services
from linli.registry.services.people import create_household, register_person

HEADER = "姓名,身份证号,联系电话,现住址,户号\n"


def look_alike(world, *, name: str | None = None):
    dwelling = world.a.dwellings[1]
    return register_person(
        name=name or world.resident_a.name,
        phone="13812345678",
        dwelling=dwelling,
        household=create_household(dwelling=dwelling, by=None),
        relation_to_head="head",
        by=None,
    )


def review_of(world, other, probability: float, **levels: str) -> MatchReview:
    return MatchReview.objects.create(
        left=world.resident_a,
        right=other,
        area_path=world.a.community.path,
        probability=probability,
        reasons={"name": "exact", "birth_date": "missing", "phone": "exact", **levels},
    )


@pytest.mark.django_db
def test_a_sure_pair_of_registered_people_waits_because_two_registered_are_never_merged(world):
    review = review_of(world, look_alike(world), 1.0)
    with translation.override("zh-hans"):
        why = selectors.explain_review(review)
    assert why.percent == 100
    assert why.held_back[0].startswith("身份证号缺失")
    assert any("两人都已在人口库中" in line for line in why.held_back)
    assert ("name", "exact") in why.evidence


@pytest.mark.django_db
def test_a_pair_below_the_threshold_or_vetoed_says_which_rule_held_it(world):
    low = review_of(world, look_alike(world), 0.9)
    vetoed = review_of(
        world, look_alike(world, name="李四"), 0.99, name="different", sex="different"
    )
    with translation.override("en"):
        low_why = selectors.explain_review(low).held_back
        vetoed_why = selectors.explain_review(vetoed).held_back
    assert any("below the 98%" in line for line in low_why)
    assert not any("register" in line for line in low_why)  # the threshold is the reason
    assert any("names are neither" in line for line in vetoed_why)
    assert any("sexes differ" in line for line in vetoed_why)


@pytest.mark.django_db
def test_the_review_pages_show_a_percentage_and_the_reasons_not_a_bare_score(world, client_for):
    review = review_of(world, look_alike(world), 1.0)
    client = client_for(world.steward_a)
    queue = client.get(reverse("registry:reviews")).content.decode()
    assert "100%" in queue and "1.000" not in queue
    page = client.get(reverse("registry:review", args=[review.pk])).content.decode()
    assert "匹配概率 100%" in page and "未自动合并" in page and "1.000" not in page
    assert "比对依据" in page


@pytest.mark.django_db
def test_a_never_confirmed_import_says_so_in_one_language(world, client_for):
    batch = import_services.stage_upload(
        area=world.a.community,
        source_name="名单",
        source_kind="household_registration",
        file_name="名单.csv",
        data=(HEADER + "张三,,13800001111,翠华小区3号楼2单元1室,H1\n").encode(),
        by=world.steward_a,
    )
    import_services.discard_unconfirmed(older_than=timezone.now() + timedelta(minutes=1))
    batch = ImportBatch.objects.get(pk=batch.pk)
    assert " / " in batch.error  # stored in both languages, for the file and the CLI
    page = client_for(world.steward_a).get(reverse("registry:import", args=[batch.pk]))
    html = page.content.decode()
    assert "未确认，已删除上传的文件。" in html
    assert "Never confirmed" not in html
