"""The countries a practice's billing address can be in (ISO 3166-1 alpha-2, Stripe's ``country``)
and the tax ID types the billing details offer, with the example each one's message shows."""

from __future__ import annotations

import unicodedata

from babel import Locale
from flask_babel import gettext as _

from portal.i18n import current_locale
from portal.text import N_

#: Where the portal's practices are: the EU, the UK and EEA neighbours, North America, Asia-Pacific.
COUNTRIES: dict[str, str] = {
    "AT": "Austria", "AU": "Australia", "BE": "Belgium", "BG": "Bulgaria", "CA": "Canada",
    "CH": "Switzerland", "CY": "Cyprus", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark",
    "EE": "Estonia", "ES": "Spain", "FI": "Finland", "FR": "France", "GB": "United Kingdom",
    "GR": "Greece", "HR": "Croatia", "HU": "Hungary", "ID": "Indonesia", "IE": "Ireland",
    "IN": "India", "IS": "Iceland", "IT": "Italy", "JP": "Japan", "KR": "South Korea",
    "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MT": "Malta", "MY": "Malaysia",
    "NL": "Netherlands", "NO": "Norway", "NZ": "New Zealand", "PH": "Philippines", "PL": "Poland",
    "PT": "Portugal", "RO": "Romania", "SE": "Sweden", "SG": "Singapore", "SI": "Slovenia",
    "SK": "Slovakia", "TH": "Thailand", "US": "United States", "VN": "Vietnam",
}  # fmt: skip

#: Stripe's tax ID types the form offers: (label, an example of the shape Stripe accepts).
TAX_ID_TYPES: dict[str, tuple[str, str]] = {
    "vn_tin": (N_("Vietnam tax ID (MST)"), N_("1234567890, or 1234567890-123 for a branch")),
    "eu_vat": (N_("EU VAT number"), N_("the country's prefix and number, e.g. DE123456789")),
    "gb_vat": (N_("UK VAT number"), "GB123456789"),
    "us_ein": (N_("US EIN"), "12-3456789"),
    "au_abn": (N_("Australian ABN"), "12345678912"),
    "sg_uen": (N_("Singapore UEN"), "123456789F"),
}

#: The EU's member states among ``COUNTRIES``: their tax ID is an EU VAT number.
EU_MEMBERS = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})  # fmt: skip
#: The tax ID type a billing address's country uses (the form's default; no entry: none chosen).
TAX_ID_TYPE_OF_COUNTRY: dict[str, str] = {
    **dict.fromkeys(sorted(EU_MEMBERS), "eu_vat"),
    "VN": "vn_tin",
    "GB": "gb_vat",
    "US": "us_ein",
    "AU": "au_abn",
    "SG": "sg_uen",
}


def tax_id_type_of(country: str | None) -> str:
    """The tax ID type of ``country`` ("" when the form offers none for it)."""
    return TAX_ID_TYPE_OF_COUNTRY.get(country or "", "")


def tax_id_label(tax_type: str) -> str:
    """The type in the reader's words ("Mã số thuế Việt Nam (MST)")."""
    return _(tax_id_record_label(tax_type))


def tax_id_record_label(tax_type: str) -> str:
    """The type as History records it (English)."""
    return TAX_ID_TYPES.get(tax_type, (tax_type.replace("_", " ").upper(), ""))[0]


def tax_id_example(tax_type: str) -> str:
    example = TAX_ID_TYPES.get(tax_type, ("", ""))[1]
    return _(example) if example else ""


def country_name(code: str | None) -> str:
    """The country in the reader's language (Babel's names; the list's own in English)."""
    english = COUNTRIES.get(code or "", code or "")
    locale = current_locale()
    if not code or locale == "en":
        return english
    return Locale.parse(locale).territories.get(code, english)


def _alphabetical(name: str) -> tuple[str, str]:
    """A sort key that reads a name as its language's alphabet does: letters first, their marks
    after (Vietnamese's "Úc" among the U's, "Đức" after the D's), not by code point."""
    letters = "".join(
        c
        for c in unicodedata.normalize("NFD", name.casefold().replace("đ", "d\uffff"))
        if not unicodedata.combining(c)
    )
    return letters, unicodedata.normalize("NFD", name.casefold())


def country_choices() -> list[tuple[str, str]]:
    """The form's countries, named in the reader's language, in its alphabetical order (English
    too: by name, never by ISO code)."""
    named = [(code, country_name(code)) for code in COUNTRIES]
    return sorted(named, key=lambda pair: _alphabetical(pair[1]))
