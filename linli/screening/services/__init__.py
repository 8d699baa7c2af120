"""Writes of screening, one module per topic (as Zulip splits its `actions/`).

- `questionnaires`: create, edit (versions), rename.
- `campaigns`: create, update, launch, pause, resume, close; escalation to the door lists.
- `attempts`: one contact attempt through any channel, answers merged, risk re-evaluated.
- `door_knocks`: the grid worker's one-screen form, sent from the phone, maybe hours later.
- `followups`: follow-up tasks risky answers raise, and visits requested outside the answers.
- `links`: texting the residents their signed H5 links.

Callers import the topic module: `from linli.screening.services import campaigns as
campaign_services`, then `campaign_services.launch_campaign(...)`. Every function takes
keyword-only arguments, checks the actor's role and jurisdiction, writes in one transaction and
records its audit event there. Errors are ValidationError keyed by field (or by question key).
"""
