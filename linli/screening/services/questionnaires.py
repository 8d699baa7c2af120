"""Questionnaires: created from a template or a definition, edited into versions, renamed."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from linli.areas.models import Area
from linli.core.actors import Actor, AuditContext
from linli.screening.auditing import record_questionnaire_event
from linli.screening.models import (
    Questionnaire,
    QuestionnaireVersion,
    ScreeningAction,
)
from linli.screening.questionnaires.schema import check_definition
from linli.screening.questionnaires.templates import TEMPLATES, template_definition
from linli.screening.roles import require_manager

# ---------------------------------------------------------------------------------------------
# Questionnaires


@transaction.atomic
def create_questionnaire(
    *,
    name: str,
    area: Area,
    by: Actor,
    from_template: str | None = None,
    definition: dict | None = None,
    context: AuditContext | None = None,
) -> Questionnaire:
    """Creates a questionnaire owned by `area` with version 1, from a ready template
    (questionnaires.TEMPLATES) or a given definition.

    Raises PermissionDenied outside the user's role or jurisdiction; ValidationError for an
    unknown template, a missing name, or an invalid definition (InvalidDefinition).
    """
    require_manager(by, area.path)
    if from_template is not None:
        if from_template not in TEMPLATES:
            raise ValidationError({"from_template": _("Unknown template")})
        definition = template_definition(from_template)
    if definition is None:
        raise ValidationError({"definition": _("Choose a template or give a definition")})
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("A name is required")})
    check_definition(definition)
    questionnaire = Questionnaire.objects.create(
        name=name,
        area=area,
        area_path=area.path,
        template=from_template or "",
        created_by_id=by.pk,
    )
    QuestionnaireVersion.objects.create(
        questionnaire=questionnaire,
        number=1,
        definition=definition,
        area_path=area.path,
        created_by_id=by.pk,
    )
    record_questionnaire_event(
        ScreeningAction.QUESTIONNAIRE_CREATE,
        questionnaire=questionnaire,
        by=by,
        context=context,
        detail={"template": from_template or ""},
    )
    return questionnaire


@transaction.atomic
def save_questionnaire_version(
    *,
    questionnaire: Questionnaire,
    definition: dict,
    by: Actor,
    context: AuditContext | None = None,
) -> QuestionnaireVersion:
    """Saves an edited definition and returns the version holding it.

    The latest version is updated in place while no campaign has been launched with it (a
    draft campaign on it sees the edit); once frozen by a launch, the edit becomes the next
    version and running campaigns keep theirs. Saving an unchanged definition changes nothing.
    Raises PermissionDenied, or InvalidDefinition (nothing saved).
    """
    require_manager(by, questionnaire.area_path)
    check_definition(definition)
    # Lock the questionnaire so two editors cannot both create version n+1.
    Questionnaire.objects.select_for_update().filter(pk=questionnaire.pk).first()
    latest = questionnaire.versions.order_by("-number").first()
    if latest is not None and latest.definition == definition:
        return latest
    if latest is not None and not latest.is_frozen:
        latest.definition = definition
        latest.save(update_fields=["definition", "updated_at"])
        version = latest
    else:
        version = QuestionnaireVersion.objects.create(
            questionnaire=questionnaire,
            number=(latest.number + 1) if latest else 1,
            definition=definition,
            area_path=questionnaire.area_path,
            created_by_id=by.pk,
        )
    questionnaire.save(update_fields=["updated_at"])
    record_questionnaire_event(
        ScreeningAction.QUESTIONNAIRE_EDIT,
        questionnaire=questionnaire,
        by=by,
        context=context,
        detail={"version": version.number},
    )
    return version


@transaction.atomic
def rename_questionnaire(
    *,
    questionnaire: Questionnaire,
    name: str,
    by: Actor,
    context: AuditContext | None = None,
) -> Questionnaire:
    """Renames a questionnaire. Raises PermissionDenied, or ValidationError for a blank name."""
    require_manager(by, questionnaire.area_path)
    if not name.strip():
        raise ValidationError({"name": _("A name is required")})
    questionnaire.name = name.strip()
    questionnaire.save(update_fields=["name", "updated_at"])
    record_questionnaire_event(
        ScreeningAction.QUESTIONNAIRE_EDIT,
        questionnaire=questionnaire,
        by=by,
        context=context,
        detail={"renamed": True},
    )
    return questionnaire
