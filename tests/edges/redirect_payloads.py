"""Known open-redirect bypasses, as the login receives them in ``next``; how a browser reads a Location."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote, urljoin, urlsplit

SITE = "portal.test"
LOGIN_URL = f"http://{SITE}/login"

#: Each value is exactly what ``request.args["next"]`` holds (the test percent-encodes it once more).
OFF_SITE_PAYLOADS = [
    "//evil.example",
    "//evil.example/account",
    "///evil.example",
    "////evil.example",
    "https://evil.example",
    "http://evil.example/account",
    "HtTpS://evil.example",
    "https:evil.example",
    "https:/evil.example",
    "http:\\\\evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/%2F%2Fevil.example",
    "/%2f%2fevil.example",
    "/%252F%252Fevil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/\t/evil.example",  # finding 7: the tab is dropped by the browser, leaving //evil.example
    "/\n/evil.example",  # finding 12: ``%0a`` after a correct password was a 500
    "/\r\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "/\x0b/evil.example",
    "javascript:alert(document.domain)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "\uff0f\uff0fevil.example",  # full-width solidus
    "/\uff0fevil.example",
    "/%EF%BC%8F%EF%BC%8Fevil.example",
    "\u202e//evil.example",  # right-to-left override
    "/\u2028/evil.example",  # Unicode line separator
    "//portal.test@evil.example",
    "https://portal.test@evil.example",
    "https://portal.test.evil.example",
    "//evil.example\\@portal.test",
    "//evil\u3002example",  # ideographic full stop
    "/.//evil.example",
    "/..//evil.example",
    "evil.example",
    "%2F%2Fevil.example",
]

#: Targets a real user is sent back to after logging in: each must still work.
LOCAL_TARGETS = [
    "/account/profile",
    "/practices/",
    "/practices/1/billing?page=2",
    "/shop/orders",
    "/account?tab=cards#saved",
]


def as_query(target: str) -> str:
    """``?next=`` carrying ``target`` exactly."""
    return "?next=" + quote(target, safe="")


def browser_reading(location: str) -> str:
    """What a browser makes of a Location (WHATWG URL parsing, the lenient parts).

    Leading and trailing C0 controls and spaces are stripped, tabs and line breaks dropped anywhere,
    ``\\`` read as ``/`` (http URLs) and the host folded (IDNA applies NFKC).
    """
    reading = location.strip("".join(chr(c) for c in range(0x21)))
    reading = re.sub(r"[\t\n\r]", "", reading).replace("\\", "/")
    return unicodedata.normalize("NFKC", reading)


def leaves_the_site(location: str) -> bool:
    """Would following this Location take the browser to another host, or to a script?"""
    reading = browser_reading(location)
    for candidate in (reading, browser_reading(unquote(reading))):
        if re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", candidate) or candidate.startswith("//"):
            return True
        parts = urlsplit(urljoin(LOGIN_URL, candidate))
        if parts.scheme != "http" or parts.hostname != SITE:
            return True
    return False
