"""Where a redirect that the request names may go: only to a path on this site.

A ``next`` parameter is attacker-controlled. Browsers read a Location leniently: they drop tabs
and line breaks anywhere, strip leading spaces and control characters, treat ``\\`` as ``/`` and
fold full-width characters, so ``/\\t/evil.example`` becomes ``//evil.example`` (another host).
Rather than predict every such reading, a target is accepted only when it is plainly a local
path: printable ASCII URL characters, one leading slash, and still a plain path once its
percent-escapes are decoded and its Unicode folded.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

#: A path on this site with an optional query and fragment, in URL characters only (RFC 3986):
#: no spaces, control characters, backslashes or non-ASCII, and never ``//`` or ``/\\`` at the start.
_LOCAL_URL = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/%?#]*")
#: Longer than any address of ours: a target this long is not one we made.
_MAX_LENGTH = 2048


def local_redirect_target(target: str | None, default: str | None) -> str | None:
    """``target`` when it is a path on this site, else ``default`` (never an error)."""
    if isinstance(target, str) and is_local_path(target):
        return target
    return default


def is_local_path(target: str) -> bool:
    if len(target) > _MAX_LENGTH or not _LOCAL_URL.fullmatch(target):
        return False
    path = re.split(r"[?#]", target, maxsplit=1)[0]
    return all(_plain_path(reading) for reading in _readings(path))


def _readings(path: str) -> list[str]:
    """The path as written, percent-decoded until it stops changing, and Unicode-folded."""
    readings = [path]
    for _ in range(3):
        decoded = unquote(readings[-1], errors="replace")
        if decoded == readings[-1]:
            break
        readings.append(decoded)
    readings.append(unicodedata.normalize("NFKC", readings[-1]))
    return readings


def _plain_path(path: str) -> bool:
    """One leading slash, no empty or dot segments, no backslash, space or invisible character."""
    if not path.startswith("/") or "\\" in path or "//" in path:
        return False
    if any(segment in (".", "..") for segment in path.split("/")):
        return False
    return not any(char.isspace() or unicodedata.category(char) in _INVISIBLE for char in path)


#: Control, format (bidi marks, zero-width), surrogate, private-use and unassigned characters.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}
