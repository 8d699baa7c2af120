"""What the matcher sees of a row or of an existing person, and what it answers.

The matcher never sees a full ID number or phone: equality is enough, so it gets their keyed
hashes (linli.core.identifiers.keyed_hash). Birth date, sex and region come from the ID number
when there is one.
"""

from dataclasses import dataclass, field


# Not frozen: an import builds one per row and per person already known (100,000 and more),
# and a frozen dataclass's __init__ costs three times as much. Treat it as read-only.
@dataclass(slots=True)
class MatchRecord:
    key: str  # unique: "r<source record id>" for a new row, "p<person id>" for an existing person
    name: str  # simplified, no spaces
    name_pinyin: str  # toneless, space separated
    id_hash: str = ""  # keyed hash of a valid ID number, or ""
    birth_date: str = ""  # ISO date or ""
    sex: str = ""
    region_code: str = ""
    phone_hash: str = ""  # keyed hash of the phone, or ""
    compound: str = ""  # canonical compound name (aliases resolved)
    building: str = ""
    unit: str = ""
    room: str = ""
    dwelling_id: int | None = None  # the resolved dwelling on the area tree, when known
    source: str = ""  # source kind, e.g. "household_registration"


@dataclass(frozen=True)
class ReviewPair:
    left: str  # MatchRecord.key
    right: str
    probability: float
    reasons: dict[str, str] = field(default_factory=dict)  # comparison name → level label


@dataclass
class LinkResult:
    clusters: dict[str, str]  # every record key → cluster id (existing "p…" keys keep theirs)
    review: list[ReviewPair]  # pairs in the review band, not merged
    auto_merged_pairs: int = 0  # pairs joined by probability (not by ID number)
    id_linked_pairs: int = 0
