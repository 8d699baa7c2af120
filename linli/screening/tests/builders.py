"""Builders shared by the screening tests (factories, not fixtures)."""

from datetime import date

from linli.demo.factories import make_resident
from linli.registry.models import Relation, Residency
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.services import questionnaires as questionnaire_services


def add_person(
    dwelling,
    name: str,
    sequence: int,
    *,
    phone: str = "",
    household=None,
    relation: str = Relation.HEAD,
    residency: str = Residency.REGISTERED,
    has_smartphone: bool = True,
    tags=(),
    birth: date = date(1985, 1, 1),
):
    """Registers a resident through the registry's services; a new household unless given."""
    return make_resident(
        dwelling=dwelling,
        name=name,
        household=household,
        relation=relation,
        birth=birth,
        sequence=sequence,
        phone=phone,
        tags=list(tags),
        residency=residency,
        has_smartphone=has_smartphone,
    )


def arrivals_for(world, by=None):
    """Returns an arrivals questionnaire of community A (created by its lead)."""
    return questionnaire_services.create_questionnaire(
        name="来返人员排查", area=world.a.community, by=by or world.lead_a, from_template="arrivals"
    )


def draft(world, questionnaire=None, *, area=None, by=None, channels=("h5", "phone"), **kw):
    """Returns a draft campaign over community A (by its lead) on the questionnaire's latest
    version; keyword arguments go to create_campaign (filters, deadline, emergency)."""
    questionnaire = questionnaire or arrivals_for(world)
    return campaign_services.create_campaign(
        name="春节返乡排查",
        questionnaire_version=questionnaire_selectors.latest_version(questionnaire),
        area=area or world.a.community,
        by=by or world.lead_a,
        channels=list(channels),
        **kw,
    )
