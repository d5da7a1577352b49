"""A table of ``/v1`` handlers ``fn(sb, params, **path_args) -> object``, one per routes module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from stripe_sandbox.core import Sandbox
from stripe_sandbox.errors import not_found

Obj = dict[str, Any]
Handler = Callable[..., Obj]


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    handler: Handler
    #: Stripe.js calls this with a publishable key (``pk_test_...``).
    publishable: bool = False


class RouteTable:
    """The routes of one module, in the order they are declared."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def route(self, method: str, rule: str, *, publishable: bool = False) -> Callable[[Handler], Handler]:
        """Add a handler ``fn(sb, params, **path_args) -> object`` for ``method rule``."""

        def decorator(fn: Handler) -> Handler:
            self._routes.append(Route(method, rule, fn, publishable))
            return fn

        return decorator

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)


def live(sb: Sandbox, object_id: str, object_type: str, label: str) -> Obj:
    """The object ``object_id`` of ``object_type``, or Stripe's "No such <label>"."""
    obj = sb.get(object_id)
    if obj is None or obj.get("object") != object_type:
        raise not_found(label, object_id)
    return obj
