"""Sections that apps above the registry add to a person's file (一人一档).

The file page belongs to the registry, but other apps know more about a person: screening
knows their risk flags and campaign statuses. The registry sits below those apps and must
not import them (import-linter's layers), so the dependency is turned around: an app
registers a section provider here from its AppConfig.ready(), and the file page renders
whatever the providers return, in registration order.

A provider is called with the acting user and the person (already fetched through
registry.selectors.person_for, so visible to the user) and returns (template name, context)
or None to show nothing. It scopes and masks its own data through its own selectors.
"""

from collections.abc import Callable

from linli.registry.models import Person

PersonSection = tuple[str, dict]
SectionProvider = Callable[[object, Person], PersonSection | None]

# Keyed by name so that ready() running twice (test runners, autoreload) registers once.
_providers: dict[str, SectionProvider] = {}


def register_person_section(name: str, provider: SectionProvider) -> None:
    """Adds (or replaces) the person-file section provider called `name`."""
    _providers[name] = provider


def person_sections(user, person: Person) -> list[PersonSection]:
    """Returns the (template name, context) of every section to show on the person's file."""
    sections = []
    for provider in _providers.values():
        section = provider(user, person)
        if section is not None:
            sections.append(section)
    return sections
