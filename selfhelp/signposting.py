"""Which numbers a visitor sees first: the service's own line, then its own countries' numbers, others below.

`group_by_country` is the rule (a plain function, tests/unit/test_selfhelp_signposting.py); `lines_for_visitor`
feeds it the rows. The operator sets the service's countries and own line in the admin (Signposting); each
resource carries a country, or none when it works everywhere (112), and is then shown with the service's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from selfhelp.countries import country_name

# The right-now page: emergency numbers first, then lines to talk to, then crisis (suicide) lines.
RIGHT_NOW_CATEGORIES = ("emergency", "helpline", "crisis")
# Lines a person can talk to now, when the chat is closed or the self-check says "talk now".
TALK_CATEGORIES = ("helpline",)


class Placed(Protocol):
    country: str
    category: str


@dataclass
class CountryGroup:
    code: str
    name: str
    resources: list[Any] = field(default_factory=list)

    def of(self, *categories: str) -> list[Any]:
        return [r for r in self.resources if r.category in categories]

    @property
    def reach(self) -> list[Any]:
        """Emergency numbers and lines to talk to (the right-now page's "Reach a person")."""
        return self.of("emergency", *TALK_CATEGORIES)

    @property
    def talk(self) -> list[Any]:
        return self.of(*TALK_CATEGORIES)

    @property
    def crisis(self) -> list[Any]:
        return self.of("crisis")


def group_by_country(resources: Iterable[Placed], service_countries: Sequence[str],
                     categories: Sequence[str]) -> tuple[list[CountryGroup], list[CountryGroup]]:
    """(the service's countries, every other country), each a group per country of `categories` resources.

    The service's countries come in the operator's order; a resource without a country works everywhere and
    joins the first of them. Other countries follow by name in the page's language. Inside a group the
    resources keep the order of `categories`, then their own order; empty groups are left out.
    """
    rank = {category: index for index, category in enumerate(categories)}
    chosen = sorted((r for r in resources if r.category in rank), key=lambda r: rank[r.category])
    home = {code: CountryGroup(code, country_name(code)) for code in service_countries}
    others: dict[str, CountryGroup] = {}
    for resource in chosen:
        code = resource.country or (service_countries[0] if service_countries else "")
        if code in home:
            home[code].resources.append(resource)
        else:
            others.setdefault(code, CountryGroup(code, country_name(code))).resources.append(resource)
    return ([group for group in home.values() if group.resources],
            sorted(others.values(), key=lambda group: group.name))


@dataclass
class VisitorLines:
    """What the visitor pages show: the own line (empty when none) and the grouped resources."""

    own_phone: str
    own_phone_hours: str
    home: list[CountryGroup]
    others: list[CountryGroup]

    @property
    def talk_lines(self) -> list[Any]:
        """Lines to talk to in the service's countries, for the closed chat and the talk-now result."""
        return [r for group in self.home for r in group.of(*TALK_CATEGORIES)]

    @property
    def call_line(self) -> Any:
        """The first line to talk to that has a phone number: the self-check's "call" button (None: no button)."""
        return next((r for r in self.talk_lines if r.phone), None)


def lines_for_visitor(categories: Sequence[str] = RIGHT_NOW_CATEGORIES) -> VisitorLines:
    from selfhelp.models import Resource, Signposting

    signposting = Signposting.current()
    home, others = group_by_country(Resource.objects.all(), signposting.country_codes, categories)
    return VisitorLines(signposting.own_phone, signposting.own_phone_hours, home, others)
