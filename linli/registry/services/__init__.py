"""Writes to the registry, one module per topic; each change is audited in the service itself.

- `people`: people and households (identifiers are sealed there and nowhere else), reveals,
  views of a file, corrections of a household;
- `merges`: merging and unmerging files, review decisions, a steward's choice of a value;
- `imports`: uploading a department's file, confirming its mapping, discarding stale uploads,
  exporting the rejected rows (the run itself is `importing.pipeline.run_batch`).

Other apps import the people services from here (`from linli.registry.services import
record_person_event`).
"""

from linli.registry.services.people import (
    ID_KIND,
    PHONE_KIND,
    REVEALABLE_FIELDS,
    Address,
    address_of,
    build_person,
    copy_identifier,
    create_household,
    move_to_household,
    record_household_viewed,
    record_person_event,
    record_person_viewed,
    register_person,
    reveal_person_field,
    seal_id_number,
    seal_phone,
    set_household_head,
    store_sealed,
    sync_tag_paths,
)

__all__ = [
    "ID_KIND",
    "PHONE_KIND",
    "REVEALABLE_FIELDS",
    "Address",
    "address_of",
    "build_person",
    "copy_identifier",
    "create_household",
    "move_to_household",
    "record_household_viewed",
    "record_person_event",
    "record_person_viewed",
    "register_person",
    "reveal_person_field",
    "seal_id_number",
    "seal_phone",
    "set_household_head",
    "store_sealed",
    "sync_tag_paths",
]
