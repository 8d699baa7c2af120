"""The unified registry: one file per person (一人一档) and per household (一户一档)."""

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from linli.areas.models import Area
from linli.core.jurisdiction import JurisdictionQuerySet
from linli.core.sensitivity import Sensitivity

# Short aliases keep the field_sensitivity tables readable.
P, S, ID, PUB = (
    Sensitivity.PERSONAL,
    Sensitivity.SENSITIVE,
    Sensitivity.IDENTIFIER,
    Sensitivity.PUBLIC,
)


class RegistryAction(models.TextChoices):
    """What the registry writes to the audit log (registered in RegistryConfig.ready)."""

    VIEW_PERSON = "view_person", _("Opened a person's file")
    VIEW_HOUSEHOLD = "view_household", _("Opened a household's file")
    IMPORT = "import", _("Imported a file")
    MERGE = "merge", _("Merged two person files")
    UNMERGE = "unmerge", _("Undid a merge")
    REVIEW = "review", _("Decided a match review")
    CHOOSE_VALUE = "choose_value", _("Chose a field's value")
    HOUSEHOLD_CHANGE = "household_change", _("Corrected a household")
    REGISTER_PERSON = "register_person", _("Registered a person")
    CREATE_HOUSEHOLD = "create_household", _("Created a household")
    UPLOAD_IMPORT = "upload_import", _("Uploaded a file to import")
    CONFIRM_IMPORT = "confirm_import", _("Confirmed an import's column mapping")
    DISCARD_IMPORT = "discard_import", _("Discarded an unconfirmed upload")
    SEARCH_IDENTIFIER = "search_identifier", _("Searched by a full ID number or phone")


class Residency(models.TextChoices):
    REGISTERED = "registered", _("Registered (户籍)")
    RESIDENT = "resident", _("Resident (常住)")
    FLOATING = "floating", _("Floating (流动)")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Relation(models.TextChoices):
    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    GRANDCHILD = "grandchild", _("Grandchild")
    GRANDPARENT = "grandparent", _("Grandparent")
    SIBLING = "sibling", _("Sibling")
    OTHER_RELATIVE = "other_relative", _("Other relative")
    NON_RELATIVE = "non_relative", _("Non-relative (tenant, carer)")


class VulnerableTag(models.TextChoices):
    ELDERLY_ALONE = "elderly_alone", _("Elderly living alone")
    PREGNANT = "pregnant", _("Pregnant")
    DIALYSIS = "dialysis", _("Dialysis")
    DISABLED = "disabled", _("Disabled")
    INFANT = "infant", _("Infant")
    NO_SMARTPHONE = "no_smartphone", _("No smartphone")


class Household(models.Model):
    """A family household (家庭户) living at one dwelling."""

    jurisdiction_path = "area_path"
    audit_type = "household"  # no audit_label: its name is an address

    field_sensitivity = {
        "id": PUB,
        "dwelling": P,
        "area_path": P,
        "address_building": P,
        "address_dwelling": P,
        "head": P,
        "created_at": PUB,
        "updated_at": PUB,
    }

    dwelling = models.ForeignKey(
        Area, on_delete=models.PROTECT, related_name="households", verbose_name=_("dwelling")
    )
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    address_building = models.CharField(_("compound and building"), max_length=120)
    address_dwelling = models.CharField(_("unit and dwelling"), max_length=60)
    head = models.ForeignKey(
        "Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("head of household"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["area_path", "id"]

    def __str__(self) -> str:
        return f"{self.address_building}{self.address_dwelling}"

    @classmethod
    def audit_url(cls, object_id: int) -> str:
        return reverse("registry:household", args=[object_id])


class Person(models.Model):
    """A resident. Identifiers are stored sealed (see linli.core.identifiers)."""

    jurisdiction_path = "area_path"
    audit_type = "person"

    field_sensitivity = {
        "id": PUB,
        "name": P,
        "sex": P,
        "birth_date": P,
        "id_number_encrypted": ID,
        "id_number_hash": ID,
        "id_number_masked": ID,
        "phone_encrypted": ID,
        "phone_hash": ID,
        "phone_masked": ID,
        "phone_tail": ID,
        "residency": P,
        "has_smartphone": P,
        "dwelling": P,
        "area_path": P,
        "address_building": P,
        "address_dwelling": P,
        "household": P,
        "relation_to_head": P,
        "region_code": P,
        "merged_into": PUB,
        "field_sources": PUB,
        "created_at": PUB,
        "updated_at": PUB,
    }

    name = models.CharField(_("name"), max_length=60)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    id_number_encrypted = models.TextField(blank=True, editable=False)
    id_number_hash = models.CharField(max_length=64, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True)
    phone_encrypted = models.TextField(blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=16, blank=True)
    phone_tail = models.CharField(max_length=4, blank=True, editable=False)
    residency = models.CharField(
        _("residency"), max_length=16, choices=Residency.choices, default=Residency.REGISTERED
    )
    has_smartphone = models.BooleanField(_("has a smartphone"), default=True)
    dwelling = models.ForeignKey(
        Area,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="residents",
        verbose_name=_("dwelling"),
    )
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    address_building = models.CharField(_("compound and building"), max_length=120, blank=True)
    address_dwelling = models.CharField(_("unit and dwelling"), max_length=60, blank=True)
    household = models.ForeignKey(
        Household,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        verbose_name=_("household"),
    )
    relation_to_head = models.CharField(
        _("relation to head"), max_length=20, choices=Relation.choices, blank=True
    )
    region_code = models.CharField(max_length=6, blank=True, editable=False)
    # A merged file points at the file it was merged into and leaves every list.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # {field: {batch, row, priority, at}}: the source record of each chosen value (a steward's
    # choice has the highest priority).
    field_sources = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["id"]
        # Plain b-tree indexes for exact lookups: db_index=True would add a second
        # varchar_pattern_ops index per column on PostgreSQL, for LIKE searches these columns
        # never get (names are searched with contains, which no b-tree serves), and an import
        # pays for every index on every row it writes.
        indexes = [
            models.Index(fields=["name"], name="person_name"),
            models.Index(fields=["id_number_hash"], name="person_id_number_hash"),
            models.Index(fields=["phone_hash"], name="person_phone_hash"),
            models.Index(fields=["phone_tail"], name="person_phone_tail"),
        ]

    def __str__(self) -> str:
        return f"person {self.pk}"

    @property
    def audit_label(self) -> str:
        """The audit log names a person by a masked identifier, never by name."""
        return self.id_number_masked or self.phone_masked

    @classmethod
    def audit_url(cls, object_id: int) -> str:
        return reverse("registry:person", args=[object_id])

    @property
    def address(self) -> str:
        return f"{self.address_building}{self.address_dwelling}"


class PersonTag(models.Model):
    """A vulnerable-group tag (重点人群) on a person: health data, class `sensitive`."""

    field_sensitivity = {"id": PUB, "person": P, "tag": S, "area_path": P, "created_at": PUB}
    jurisdiction_path = "area_path"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(_("tag"), max_length=20, choices=VulnerableTag.choices)
    area_path = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("vulnerable tag")
        verbose_name_plural = _("vulnerable tags")
        constraints = [
            models.UniqueConstraint(fields=["person", "tag"], name="persontag_person_tag_unique")
        ]
        indexes = [models.Index(fields=["tag", "area_path"], name="persontag_tag_path")]

    def __str__(self) -> str:
        return self.tag


class SourceKind(models.TextChoices):
    HOUSEHOLD_REGISTRATION = "household_registration", _("Household registration (户籍)")
    PROPERTY = "property", _("Property management (物业)")
    CENSUS = "census", _("Grid census (网格普查)")
    TESTING = "testing", _("Testing lab (核酸检测)")
    TRAVEL = "travel", _("Arrivals (返乡/到达)")
    OTHER = "other", _("Other")


# When sources disagree, the value from the more authoritative source is chosen (then the
# newer one). A steward's explicit choice overrides both.
SOURCE_PRIORITY = {
    SourceKind.HOUSEHOLD_REGISTRATION: 5,
    SourceKind.CENSUS: 4,
    SourceKind.TESTING: 3,
    SourceKind.TRAVEL: 2,
    SourceKind.PROPERTY: 1,
    SourceKind.OTHER: 0,
}


class ImportSource(models.Model):
    """A department's series of files, with the column mapping a steward confirmed last time."""

    jurisdiction_path = "area_path"

    name = models.CharField(_("source"), max_length=80)
    kind = models.CharField(_("kind"), max_length=32, choices=SourceKind.choices)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    column_mapping = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("import source")
        verbose_name_plural = _("import sources")
        constraints = [
            models.UniqueConstraint(fields=["area", "name"], name="importsource_area_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class BatchStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded, awaiting confirmation")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    COMMITTED = "committed", _("Imported")
    DUPLICATE = "duplicate", _("Same file already imported: nothing changed")
    FAILED = "failed", _("Failed: nothing was changed")


class ImportBatch(models.Model):
    """One file imported into one area: the provenance unit of every value it brought."""

    jurisdiction_path = "area_path"
    audit_type = "import_batch"

    source = models.ForeignKey(ImportSource, on_delete=models.PROTECT, related_name="batches")
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=64, db_index=True, editable=False)
    file_name = models.CharField(_("file"), max_length=255)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    stored_file = models.CharField(max_length=255, editable=False)  # path under MEDIA_ROOT
    encoding = models.CharField(max_length=16, blank=True)
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=dict, blank=True)
    # What the steward decided in the preview for compounds the tree lacks below the target
    # ({compound key: choice}, linli.registry.importing.placement).
    placements = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=BatchStatus.choices, default=BatchStatus.UPLOADED
    )
    phase = models.CharField(max_length=32, blank=True)  # reading / matching / writing
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    accepted_rows = models.PositiveIntegerField(default=0)
    rejected_rows = models.PositiveIntegerField(default=0)
    warning_rows = models.PositiveIntegerField(default=0)
    new_people = models.PositiveIntegerField(default=0)
    linked_rows = models.PositiveIntegerField(default=0)
    review_pairs = models.PositiveIntegerField(default=0)
    new_compounds = models.PositiveIntegerField(default=0)  # created (audited one by one)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.file_name

    @property
    def audit_label(self) -> str:
        return self.file_name

    @property
    def progress_percent(self) -> int:
        if self.status in (BatchStatus.COMMITTED, BatchStatus.DUPLICATE):
            return 100
        if not self.total_rows:
            return 0
        return min(99, int(100 * self.processed_rows / self.total_rows))


class SourceRecord(models.Model):
    """One row of one file, as its source gave it: the provenance of every value Linli holds.

    Identifiers are sealed as on Person; the raw row (needed to hand rejected rows back) is
    stored encrypted.
    """

    jurisdiction_path = "area_path"
    field_sensitivity = {
        "id": PUB,
        "batch": PUB,
        "row_number": PUB,
        "person": P,
        "area_path": P,
        "accepted": PUB,
        "errors": P,
        "raw_encrypted": ID,
        "name": P,
        "id_number_encrypted": ID,
        "id_number_hash": ID,
        "id_number_masked": ID,
        "id_problem": PUB,
        "birth_date": P,
        "sex": P,
        "region_code": P,
        "phone_encrypted": ID,
        "phone_hash": ID,
        "phone_masked": ID,
        "address_text": P,
        "dwelling": P,
        "residency": P,
        "relation": P,
        "household_number": P,
        "match_method": PUB,
        "match_probability": PUB,
    }

    # No index of its own: the unique (batch, row_number) constraint serves batch lookups, and
    # every index costs each of the tens of thousands of rows an import writes.
    batch = models.ForeignKey(
        ImportBatch, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    row_number = models.PositiveIntegerField()
    person = models.ForeignKey(
        "Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="records"
    )
    area_path = models.CharField(max_length=64, db_index=True)
    accepted = models.BooleanField(default=True)
    errors = models.JSONField(default=list, blank=True)  # [{field, code, zh, en}]
    raw_encrypted = models.TextField(blank=True)
    name = models.CharField(max_length=60, blank=True)
    id_number_encrypted = models.TextField(blank=True)
    # Copied to the person, never searched here (people are searched by their own hash).
    id_number_hash = models.CharField(max_length=64, blank=True)
    id_number_masked = models.CharField(max_length=18, blank=True)
    id_problem = models.CharField(max_length=32, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=1, blank=True)
    region_code = models.CharField(max_length=6, blank=True)
    phone_encrypted = models.TextField(blank=True)
    phone_hash = models.CharField(max_length=64, blank=True)
    phone_masked = models.CharField(max_length=16, blank=True)
    address_text = models.CharField(max_length=200, blank=True)
    dwelling = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    residency = models.CharField(max_length=16, blank=True)
    relation = models.CharField(max_length=20, blank=True)
    household_number = models.CharField(max_length=40, blank=True)
    match_method = models.CharField(max_length=16, blank=True)  # id / probabilistic / new
    match_probability = models.FloatField(null=True, blank=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("source record")
        verbose_name_plural = _("source records")
        constraints = [
            models.UniqueConstraint(fields=["batch", "row_number"], name="record_batch_row_unique")
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.row_number}"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("To review")
    ACCEPTED = "accepted", _("Same person: merged")
    REJECTED = "rejected", _("Different people")


class MatchReview(models.Model):
    """A pair of people the matcher could not decide on: a steward looks at them side by side."""

    jurisdiction_path = "area_path"

    left = models.ForeignKey("Person", on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey("Person", on_delete=models.CASCADE, related_name="+")
    area_path = models.CharField(max_length=64, db_index=True)
    probability = models.FloatField()
    reasons = models.JSONField(default=dict, blank=True)
    batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("match review")
        verbose_name_plural = _("match reviews")
        ordering = ["-probability", "id"]
        constraints = [
            models.UniqueConstraint(fields=["left", "right"], name="matchreview_pair_unique")
        ]

    def __str__(self) -> str:
        return f"{self.left_id}~{self.right_id}"


class PersonMerge(models.Model):
    """A merge of one person file into another; undone by unmerge, never deleted."""

    jurisdiction_path = "area_path"

    survivor = models.ForeignKey("Person", on_delete=models.PROTECT, related_name="+")
    merged = models.ForeignKey("Person", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=64, db_index=True)
    record_ids = models.JSONField(default=list)  # source records moved to the survivor
    survivor_before = models.JSONField(default=dict)  # the survivor's chosen values before
    review = models.ForeignKey(
        MatchReview, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)
    undone_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    objects = JurisdictionQuerySet.as_manager()

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.merged_id}→{self.survivor_id}"
