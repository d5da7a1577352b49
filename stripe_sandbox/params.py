"""Stripe's wire format for request parameters.

The SDK sends ``a[b][0][c]=v`` (form body for POST, query string for GET/DELETE); Stripe.js and
older clients also send ``expand[]=x``. We rebuild the nested dicts and lists so handlers read
plain Python values. Every leaf stays a string: coercion happens where the type is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from stripe_sandbox.errors import invalid_request

_KEY_PART = re.compile(r"\[([^\]]*)\]")


def _split_key(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    parts = [head]
    if rest:
        parts.extend(_KEY_PART.findall("[" + rest))
    return parts


def _listify(node: Any) -> Any:
    """Dicts whose keys are all indices become lists ordered by index (``items[0]``, ``items[1]``)."""
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        if node and all(isinstance(k, str) and k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
        return node
    if isinstance(node, list):
        return [_listify(v) for v in node]
    return node


def parse_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn ``[("items[0][price]", "price_1")]`` into ``{"items": [{"price": "price_1"}]}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split_key(key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                # ``expand[]=a&expand[]=b``: an append to a list kept as an index-keyed dict.
                part = str(len(node))
            if last:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root)


def to_int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_request(f"Invalid integer: {value}", param=param) from None


def to_bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "True", "1"):
        return True
    if value in ("false", "False", "0", ""):
        return False
    raise invalid_request(f"Invalid boolean: {value}", param=param)


def as_list(value: Any) -> list[Any]:
    """A parameter that may arrive as one value or as an indexed list."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


#: Stripe's metadata limits (https://docs.stripe.com/metadata#data): 50 keys, key names up to 40
#: characters, values up to 500, on every object that has metadata.
METADATA_MAX_KEYS, METADATA_MAX_KEY_LENGTH, METADATA_MAX_VALUE_LENGTH = 50, 40, 500


def metadata_update(current: dict[str, str] | None, update: Any) -> dict[str, str]:
    """Stripe merges metadata: an empty string unsets one key, ``metadata=""`` unsets them all."""
    merged = dict(current or {})
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise invalid_request("Invalid metadata: must be a hash", param="metadata")
    for key, value in update.items():
        if len(str(key)) > METADATA_MAX_KEY_LENGTH:
            raise invalid_request(
                f"Metadata keys can have up to {METADATA_MAX_KEY_LENGTH} characters; "
                f"`{key}` has {len(str(key))}.",
                param=f"metadata[{key}]",
            )
        if value == "" or value is None:
            merged.pop(key, None)
            continue
        if len(str(value)) > METADATA_MAX_VALUE_LENGTH:
            raise invalid_request(
                f"Metadata values can have up to {METADATA_MAX_VALUE_LENGTH} characters; the value of "
                f"`{key}` has {len(str(value))}.",
                param=f"metadata[{key}]",
            )
        merged[key] = str(value)
    if len(merged) > METADATA_MAX_KEYS:
        raise invalid_request(
            f"Invalid metadata: metadata can have up to {METADATA_MAX_KEYS} keys; this has {len(merged)}.",
            param="metadata",
        )
    return merged
