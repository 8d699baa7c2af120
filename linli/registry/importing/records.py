"""What an imported row becomes: the contract between reading, normalising and matching.

Reading (readers.py) yields rows of text; mapping (mapping.py) names their columns with the
canonical FIELDS; normalising (normalise.py) turns each row into a CleanRow or a list of
RowErrors; addresses.py parses the address text into AddressParts.
"""

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from linli.core.errors import CHINESE, ENGLISH, Message, both_languages, in_language

# Canonical fields a column can be mapped to ("" = ignore the column).
FIELDS = (
    "name",
    "id_number",
    "phone",
    "address",  # a whole address; parsed into compound/building/unit/room
    "compound",
    "building",
    "unit",
    "room",
    "sex",
    "birth_date",
    "residency",
    "relation",  # relation to the head of household
    "household_number",  # 户号 where a department has one
)


@dataclass(frozen=True)
class RowError:
    """A problem with one field of one row: a code and one gettext_lazy message.

    `text` says it in the reader's language (the preview page); `zh` and `en` in each, as the
    import stores it with the row and hands it back in the rejected-rows file."""

    field: str
    code: str
    message: Message
    params: tuple[tuple[str, object], ...] = ()  # (name, value) for the message's %(name)s

    @property
    def text(self) -> str:
        """Returns the message in the active language."""
        text = str(self.message)
        return text % dict(self.params) if self.params else text

    # Cached on the (shared, frozen) instance: a file can have thousands of the same problem.
    @cached_property
    def zh(self) -> str:
        return in_language(self.message, CHINESE, dict(self.params) or None)

    @cached_property
    def en(self) -> str:
        return in_language(self.message, ENGLISH, dict(self.params) or None)

    def as_record(self) -> dict[str, str]:
        """Returns what an import stores of the problem: field, code, zh, en."""
        return {"field": self.field, "code": self.code, "zh": self.zh, "en": self.en}

    def __str__(self) -> str:
        return both_languages(self.message, dict(self.params) or None)


@dataclass(frozen=True)
class AddressParts:
    """An address on the area tree below a community. Empty strings are unknown parts.

    Names are canonical: compound as written (aliases resolved later), building "3号楼",
    unit "2单元", room "501室"; floor derived from the room number when it can be.
    """

    compound: str = ""
    building: str = ""
    unit: str = ""
    room: str = ""
    floor: int | None = None

    @property
    def is_dwelling(self) -> bool:
        return bool(self.building and self.room)


@dataclass
class CleanRow:
    """One data row after normalisation. Rows with errors are not CleanRows."""

    row_number: int  # data rows counted from 1 after the header
    name: str  # simplified characters, no spaces (minority names keep their middle dot ·)
    name_pinyin: str  # toneless pinyin, space separated: "zhang san feng"
    id_number: str = ""  # normalised 18 characters, or "" when absent or invalid
    id_problem: str = ""  # code of the ID problem when one was present but invalid
    birth_date: date | None = None  # from the ID number, else from a birth-date column
    sex: str = ""  # "M" / "F" / ""
    region_code: str = ""  # first six digits of the ID number
    phone: str = ""  # normalised digits, or ""
    address: AddressParts = field(default_factory=AddressParts)
    residency: str = ""  # registered / resident / floating / ""
    relation: str = ""  # a linli.registry.models.Relation value or ""
    household_number: str = ""
    warnings: list[RowError] = field(default_factory=list)  # kept, but worth a look
