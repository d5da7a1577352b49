"""Issue 18's catalogue checks: the catalogues are up to date with the code, every msgid has a
Vietnamese translation (none fuzzy), and each translation keeps its msgid's placeholders.

"The code's msgids" are what ``make i18n-extract`` extracts now (the same pybabel command and
``babel.cfg``, into a temporary .pot), so a string wrapped in ``_()`` without ``make i18n-update``,
or a msgid left in a catalogue after its string changed, fails here.
"""

from __future__ import annotations

import collections
import pathlib
import re

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
LANGUAGES = ("en", "vi")
#: ``make i18n-extract``'s options (the Makefile), into a temporary file.
EXTRACT = ["-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location", "--sort-output"]
#: A printf-style conversion: ``%(name)s``, ``%d``, ``%%``.
CONVERSION = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?P<type>[a-zA-Z%])")


def catalogue(path: pathlib.Path):
    with path.open("rb") as source:
        return read_po(source)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The code's catalogue, extracted now."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    status = CommandLineInterface().run(["pybabel", "-q", "extract", *EXTRACT, "-o", str(pot), str(ROOT)])
    assert status in (None, 0), "pybabel extract failed"
    return catalogue(pot)


def ids(cat) -> set:
    """The msgids of a catalogue (a plural entry by its singular and plural), header and obsolete aside."""
    return {message.id for message in cat if message.id}


def difference(ours: set, theirs: set) -> str:
    missing = sorted(map(str, ours - theirs))
    extra = sorted(map(str, theirs - ours))
    return f"not in the catalogue: {missing[:20]}; no longer in the code: {extra[:20]}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalogue_is_up_to_date_with_the_code(extracted, language):
    po = catalogue(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    assert ids(po) == ids(extracted), f"translations/{language}: run make i18n-update; " + difference(
        ids(extracted), ids(po)
    )


def test_the_extracted_template_is_up_to_date_when_there_is_one(extracted):
    """translations/messages.pot is ``make i18n-extract``'s output (git-ignored): when it is there,
    it must be the code's (a stale one would merge old msgids into the catalogues)."""
    pot = TRANSLATIONS / "messages.pot"
    if not pot.exists():
        return  # nothing to be stale: make i18n-update makes it afresh
    assert ids(catalogue(pot)) == ids(extracted), "run make i18n-extract; " + difference(
        ids(extracted), ids(catalogue(pot))
    )


def translations(message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string,)


def test_every_msgid_has_a_vietnamese_translation(extracted):
    vi = catalogue(TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po")
    untranslated, fuzzy = [], []
    for message in extracted:
        if not message.id:
            continue
        ours = vi.get(message.id)
        if ours is None or not all(text.strip() for text in translations(ours)):
            untranslated.append(message.id)
        elif ours.fuzzy:
            fuzzy.append(message.id)
    assert not untranslated, f"{len(untranslated)} msgids without Vietnamese: {untranslated[:20]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy (unused) Vietnamese entries: {fuzzy[:20]}"


def placeholders(text: str) -> collections.Counter:
    """Its conversions, ``%%`` aside: ``{("name", "s"): 1, ...}`` (positional ones named "")."""
    return collections.Counter(
        (match["name"] or "", match["type"]) for match in CONVERSION.finditer(text) if match["type"] != "%"
    )


def stray_percent(text: str) -> bool:
    """A ``%`` that is no conversion: "30% off" fails when the string is %-formatted (every
    template msgid is, by Jinja's newstyle gettext, and every Python one given values)."""
    return "%" in CONVERSION.sub("", text)


def test_each_translation_keeps_its_placeholders():
    vi = catalogue(TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po")
    wrong = []
    for message in vi:
        if not message.id:
            continue
        singular, plural = (message.id if isinstance(message.id, tuple) else (message.id, message.id))[:2]
        expected = placeholders(plural)
        for text in translations(message):
            if not text:
                continue  # untranslated: the test above says so
            if placeholders(text) != expected or stray_percent(text) != stray_percent(plural):
                wrong.append((singular, text))
    assert not wrong, f"{len(wrong)} translations whose placeholders differ from their msgid's: {wrong[:10]}"


@pytest.mark.parametrize(
    ("msgid", "msgstr", "keeps"),
    [
        ("%(amount)s off", "giảm %(amount)s", True),
        ("%(amount)s off", "giảm %(amout)s", False),  # a misspelt name: KeyError on the page
        ("%(percent)s%% off", "giảm %(percent)s%%", True),
        ("%(percent)s%% off", "giảm %(percent)s%", False),  # a lone % breaks the formatting
        ("Paid %(day)s", "Đã thanh toán", False),  # the day dropped
        ("%(num)d event", "%(num)s sự kiện", False),  # another conversion
    ],
)
def test_the_placeholder_check_tells_a_broken_translation(msgid, msgstr, keeps):
    same = placeholders(msgstr) == placeholders(msgid) and stray_percent(msgstr) == stray_percent(msgid)
    assert same is keeps
