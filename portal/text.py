"""Text from outside: the characters no field of ours accepts, and the message that says so.

Every form (``portal.forms.PortalForm``) and every JSON body of the API applies ``text_problem``
to each text value. Refused: control characters (NUL, escape, C1...; tab and line breaks only
in multi-line fields), line breaks in one-line fields (a name ends up in an email header and on
one line of an invoice), the invisible marks that reorder how text is displayed (bidi overrides
and isolates: "Clinic\u202egnp.exe" reads as "Clinicexe.png"), and lone surrogates (not text at
all). Accents and every script are welcome: "Phòng khám Nha khoa Sài Gòn".
"""

from __future__ import annotations

import unicodedata

import flask_babel

#: Marks that change the display order of the text around them.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Line breaks: CR, LF and NEL (control characters) and Unicode's line and paragraph separators.
LINE_BREAKS = frozenset("\r\n\x85\u2028\u2029")
#: Characters with no width and no use in a name or a line of text: they hide inside a word
#: ("A\ufeffB" looks like "AB"). Joiners (U+200C, U+200D) are left alone: scripts and emoji need them.
ZERO_WIDTH = frozenset("\u034f\u180e\u200b\u2060\ufeff")
#: Letters that draw nothing (Hangul fillers, the blank braille pattern): a name of only these, or of
#: spaces, is a blank name ("\u3164\u3164: billing required" on a banner).
BLANK_LETTERS = frozenset("\u115f\u1160\u2800\u3164\uffa0")
#: What a multi-line field (a textarea) may hold besides printable text.
MULTI_LINE_ALLOWED = frozenset("\t\r\n\u2028\u2029")


def N_(message: str) -> str:
    """Marks a message for the catalogue (pybabel extracts ``N_``) without translating it: text kept
    in English, as written (these messages, an order's failure message), and translated where it is read."""
    return message


#: Why a value is refused (English, the msgid: ``text_problem`` answers in the reader's language).
ONE_LINE = N_("Keep this on one line: remove the line breaks.")
CONTROL = N_("Remove the invisible control characters (such as NUL or tab) from this field.")
BIDI = N_("Remove the invisible characters that change the text's direction (such as U+202E).")
NOT_TEXT = N_("This contains characters that are not text; type it again.")
ZERO_WIDTH_MESSAGE = N_("Remove the invisible characters (such as a zero-width space) from this field.")
BLANK = N_("This shows nothing: type some visible letters or numbers.")


def text_problem(value: str, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be accepted in a (one-line or multi-line) text field, or None."""
    for char in value:
        if (
            char.isprintable()
            and char not in BIDI_CONTROLS
            and char not in LINE_BREAKS
            and char not in ZERO_WIDTH
        ):
            continue  # the common case, letters of every script included
        if multiline and char in MULTI_LINE_ALLOWED:
            continue
        problem = _message(char, multiline)
        if problem:
            return flask_babel.gettext(problem)
    if value.strip() and not any(_visible(char) for char in value):  # blank to the eye, not to strip()
        return flask_babel.gettext(BLANK)
    return None


def _visible(char: str) -> bool:
    return char not in BLANK_LETTERS and unicodedata.category(char) not in (
        "Zs",
        "Zl",
        "Zp",
        "Cf",
        "Cc",
        "Mn",
    )


def _message(char: str, multiline: bool) -> str | None:
    if char in LINE_BREAKS and not multiline:
        return ONE_LINE
    if char in BIDI_CONTROLS:
        return BIDI
    if char in ZERO_WIDTH:
        return ZERO_WIDTH_MESSAGE
    category = unicodedata.category(char)
    if category == "Cc":
        return CONTROL
    if category == "Cs":
        return NOT_TEXT
    return None  # not printable but harmless: spaces, joiners, soft hyphens, unassigned letters


def first_problem_in(data: object, path: str = "") -> tuple[str, str] | None:
    """(where, why) for the first refused string in a JSON document (keys included), or None."""
    if isinstance(data, str):
        problem = text_problem(data)
        return (path or "body", problem) if problem else None
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            found = first_problem_in(str(key), where) or first_problem_in(value, where)
            if found:
                return found
    if isinstance(data, list):
        for index, value in enumerate(data):
            found = first_problem_in(value, f"{path}[{index}]")
            if found:
                return found
    return None
