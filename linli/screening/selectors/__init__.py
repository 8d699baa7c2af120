"""Reads of screening, one module per topic; each takes the acting user and applies role,
jurisdiction and masking itself, so a view cannot forget them.

- `questionnaires`, `campaigns`: fetch-and-authorize (`*_for(user, id)`) and lists.
- `coverage`: live progress by area, and the unreached/risky lists.
- `results`: the results table and export rows.
- `door_knocks`: a grid worker's door-knock list.
- `followups`: follow-up tasks and flags on a person's file.
- `links`, `h5`: who may be texted and what was sent; the resident's H5 page.

Callers import the topic module: `from linli.screening.selectors import campaigns as
campaign_selectors`.
"""
