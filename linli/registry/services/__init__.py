"""Writes to the registry, one module per topic; each change is audited in the service itself.

- `people`: people and households (identifiers are sealed there and nowhere else), reveals,
  views of a file, corrections of a household;
- `merges`: merging and unmerging files, review decisions, a steward's choice of a value;
- `imports`: uploading a department's file, confirming its mapping, discarding stale uploads,
  exporting the rejected rows (the run itself is `importing.pipeline.run_batch`).

Callers import the topic module (`from linli.registry.services import people as
people_services`) or its names (`from linli.registry.services.people import …`); nothing is
re-exported here, so each name has one import path.
"""
