"""Reports have no services: they only read (selectors), so nothing here is audited."""

AUDITED: dict = {}

NOT_AUDITED: dict[str, str] = {}
