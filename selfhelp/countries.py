"""The countries resources and the service can name, with their names for people; and the rule that reads a list.

Two-letter codes (ISO 3166-1 alpha-2; GB for the United Kingdom). Europe, where 112 works, and a few
English-speaking countries; a country missing here is one more line and one more translation.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

COUNTRY_NAMES: dict[str, Promise] = {
    "AT": _("Austria"), "BE": _("Belgium"), "BG": _("Bulgaria"), "CH": _("Switzerland"), "CY": _("Cyprus"),
    "CZ": _("Czechia"), "DE": _("Germany"), "DK": _("Denmark"), "EE": _("Estonia"), "ES": _("Spain"),
    "FI": _("Finland"), "FR": _("France"), "GB": _("United Kingdom"), "GR": _("Greece"), "HR": _("Croatia"),
    "HU": _("Hungary"), "IE": _("Ireland"), "IS": _("Iceland"), "IT": _("Italy"), "LI": _("Liechtenstein"),
    "LT": _("Lithuania"), "LU": _("Luxembourg"), "LV": _("Latvia"), "MT": _("Malta"), "NL": _("Netherlands"),
    "NO": _("Norway"), "PL": _("Poland"), "PT": _("Portugal"), "RO": _("Romania"), "SE": _("Sweden"),
    "SI": _("Slovenia"), "SK": _("Slovakia"),
    "AU": _("Australia"), "CA": _("Canada"), "NZ": _("New Zealand"), "US": _("United States"),
}


def country_name(code: str) -> str:
    return str(COUNTRY_NAMES.get(code, code))


def parse_countries(value: str) -> list[str]:
    """"GB, IE" → ["GB", "IE"]: known codes, in the order given, each once; at least one."""
    codes = [part.strip().upper() for part in value.replace(";", ",").replace(" ", ",").split(",") if part.strip()]
    if not codes:
        raise ValueError("Give at least one country code, e.g. NL or GB, IE.")
    unknown = [code for code in codes if code not in COUNTRY_NAMES]
    if unknown:
        raise ValueError(f"Not a country code this site knows: {', '.join(unknown)} (see selfhelp/countries.py).")
    return list(dict.fromkeys(codes))
