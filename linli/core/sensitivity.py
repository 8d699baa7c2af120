"""Field sensitivity classes, declared once per model field.

A model holding personal data lists every concrete field in `field_sensitivity`; the system
check `linli.E001` fails when a field is added without a class, so a new column cannot slip
past masking unnoticed.
"""

from enum import StrEnum

from django.db import models


class Sensitivity(StrEnum):
    PUBLIC = "public"  # safe anywhere, e.g. a compound's name
    PERSONAL = "personal"  # identifies or describes a person: name, address, birth date
    SENSITIVE = "sensitive"  # health and vulnerability: dialysis, pregnancy, disability
    IDENTIFIER = "identifier"  # ID number, phone: full value only with a stated purpose


def sensitivity_of(model: type[models.Model] | models.Model, field_name: str) -> Sensitivity:
    """Returns the declared class of a field; undeclared fields count as identifiers."""
    declared = getattr(model, "field_sensitivity", {})
    return declared.get(field_name, Sensitivity.IDENTIFIER)
