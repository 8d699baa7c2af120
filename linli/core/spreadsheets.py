"""What every file Linli hands out must carry: defused cells and a watermark.

Spreadsheet programs run a cell that starts with `=`, `+`, `-` or `@` as a formula (CSV
injection); a file of residents must say who took it out, when and what for. Every export
(the registry's rejected rows, a campaign's results, and the apps to come) goes through these.
"""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from linli.core.masking import mask_long_numbers

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse_formula(value: str) -> str:
    """Returns text a spreadsheet shows as text, never runs (a leading quote when it would)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def safe_cell(value: str) -> str:
    """Masks ID numbers and phones in free text, and defuses formulas."""
    return defuse_formula(mask_long_numbers(value))


def watermark(exported_by: str, at: datetime) -> str:
    """Returns the line every exported sheet carries: for epidemic control only, by whom, when."""
    at = timezone.localtime(at)
    return _("For epidemic control only — exported by %(user)s at %(time)s") % {
        "user": exported_by,
        "time": f"{at:%Y-%m-%d %H:%M}",
    }
