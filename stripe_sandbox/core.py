"""The sandbox's state: objects, the clock, events, and the transaction every request runs in."""

from __future__ import annotations

import copy
import json
import secrets
import string
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from stripe_sandbox import defaults
from stripe_sandbox.delivery import Deliverer
from stripe_sandbox.errors import not_found
from stripe_sandbox.limits import KeysInFlight, RateLimiter, RequestLog
from stripe_sandbox.shapes import blank
from stripe_sandbox.shapes.events import EVENT
from stripe_sandbox.shapes.includable import INCLUDABLE, hide_includable
from stripe_sandbox.store import Store

#: The API version every object is shaped for (the pinned SDK's).
API_VERSION = "2026-10-28.endive"

_ALPHABET = string.ascii_letters + string.digits

#: Human names Stripe uses in "No such ..." messages, by id prefix.
LABELS = {
    "cus": "customer",
    "txi": "tax_id",
    "pm": "PaymentMethod",
    "seti": "setupintent",
    "pi": "payment_intent",
    "ch": "charge",
    "re": "refund",
    "cn": "credit_note",
    "prod": "product",
    "price": "price",
    "sub": "subscription",
    "promo": "promotion code",
    "di": "discount",
    "si": "subscription_item",
    "in": "invoice",
    "ii": "invoiceitem",
    "cs": "checkout.session",
    "bps": "billing_portal.session",
    "evt": "event",
    "clock": "test_clock",
}


def id_prefix(object_id: str) -> str:
    if object_id.startswith("cs_test_"):
        return "cs"
    return object_id.split("_", 1)[0]


@dataclass
class RequestInfo:
    """Who caused the current change: fills ``event.request``."""

    request_id: str | None = None
    idempotency_key: str | None = None


#: ``(sandbox, invoice id, payment intent)``: an invoice's PaymentIntent succeeded or failed.
InvoicePaymentHook = Callable[["Sandbox", str, dict[str, Any]], None]


class Sandbox:
    """Everything the HTTP layer and the pages act on; one per app."""

    def __init__(
        self,
        database_path: str,
        webhook_url: str | None,
        webhook_secret: str,
        delivery_mode: str = "ordered",
        *,
        delivery_concurrency: int = 1,
        on_invoice_payment: InvoicePaymentHook,
        strict: bool = True,
        rate_limit: bool = True,
    ) -> None:
        self.store = Store(database_path)
        self.deliverer = Deliverer(
            self.store, webhook_url, webhook_secret, delivery_mode, concurrency=delivery_concurrency
        )
        self.webhook_url = webhook_url
        self.public_url = self.store.setting("public_url", defaults.ADDRESS)
        self.request = RequestInfo()
        #: Payments sit below billing and never import it: a PaymentIntent that pays an invoice tells
        #: billing through this hook, which the app factory wires to ``billing.collection``.
        self.on_invoice_payment = on_invoice_payment
        self._now_override: int | None = None
        self._outgoing: list[tuple[str, str]] = []
        # Control knobs (latency, outage) live in memory: they are per test run, not state.
        self.latency_ms = 0
        self.outage = False
        self.fail_next = 0
        self.fail_status = 500
        #: Strict mode: parameters checked against the pinned SDK's lists, as Stripe checks them.
        self.strict = strict
        #: Stripe's test-mode rate limit (25 operations a second); off: no limit.
        self.rate_limit = rate_limit
        self.limiter = RateLimiter()
        self.keys_in_flight = KeysInFlight()
        self.request_log = RequestLog()
        for event_id in self.store.pending_deliveries():
            event = self.store.get(event_id)
            if event is not None:
                self.deliverer.enqueue(event_id, json.dumps(event, indent=2))
        self.deliverer.start()

    # settings ------------------------------------------------------------------------------

    def setting(self, name: str, default: Any = None) -> Any:
        return self.store.setting(name, default)

    def set_setting(self, name: str, value: Any) -> None:
        self.store.set_setting(name, value)

    # time ----------------------------------------------------------------------------------

    def now(self) -> int:
        """Sandbox time: real time plus the persisted offset the clock was advanced by."""
        if self._now_override is not None:
            return self._now_override
        return int(time.time()) + int(self.store.setting("clock_offset", 0))

    @contextmanager
    def at(self, timestamp: int) -> Iterator[None]:
        """Run as if it were ``timestamp`` (processing a renewal due at period end, say)."""
        previous = self._now_override
        self._now_override = timestamp
        try:
            yield
        finally:
            self._now_override = previous

    # ids and objects -----------------------------------------------------------------------

    @staticmethod
    def new_id(prefix: str, length: int = 24) -> str:
        return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))

    def blank(self, shape: dict[str, Any], prefix: str, length: int = 24) -> dict[str, Any]:
        obj = blank(shape)
        obj["id"] = self.new_id(prefix, length)
        if "created" in obj:
            obj["created"] = self.now()
        return obj

    def get(self, object_id: str) -> dict[str, Any] | None:
        return self.store.get(object_id)

    def require(self, object_id: Any, param: str = "id", label: str | None = None) -> dict[str, Any]:
        if not isinstance(object_id, str) or not object_id:
            raise not_found(label or "object", str(object_id), param)
        obj = self.store.get(object_id)
        if obj is None or obj.get("deleted"):
            raise not_found(label or LABELS.get(id_prefix(object_id), "object"), object_id, param)
        return obj

    def save(self, obj: dict[str, Any], object_type: str | None = None) -> dict[str, Any]:
        self.store.put(obj, object_type)
        return obj

    def meta(self, object_id: str) -> dict[str, Any]:
        return self.store.get_meta(object_id)

    def update_meta(self, object_id: str, **values: Any) -> None:
        meta = self.store.get_meta(object_id)
        meta.update(values)
        self.store.set_meta(object_id, meta)

    def all(
        self,
        object_type: str,
        where: Callable[[dict[str, Any]], bool] | None = None,
        customer: str | None = None,
    ) -> list[dict[str, Any]]:
        objs = self.store.all_of(object_type, customer)
        return [o for o in objs if where is None or where(o)]

    # events --------------------------------------------------------------------------------

    def emit(
        self, event_type: str, obj: dict[str, Any], previous_attributes: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Record the event Stripe would send, with a snapshot of ``obj`` as it is now."""
        event = self.blank(EVENT, "evt")
        event["api_version"] = API_VERSION
        # Events never carry includable fields (an invoice's ``payments``): nobody expanded them.
        snapshot = hide_includable({k: v for k, v in copy.deepcopy(obj).items() if k != "__seq"}, [])
        event["data"] = {"object": snapshot}
        if previous_attributes is not None:
            hidden = INCLUDABLE.get(str(obj.get("object")), ())
            event["data"]["previous_attributes"] = {
                k: v for k, v in previous_attributes.items() if k not in hidden
            }
        event["pending_webhooks"] = 1 if self.webhook_url else 0
        event["request"] = {"id": self.request.request_id, "idempotency_key": self.request.idempotency_key}
        event["type"] = event_type
        self.save(event, "event")
        if self.webhook_url:
            self.store.mark_delivery(event["id"], "pending", 0)
            self._outgoing.append((event["id"], json.dumps(event, indent=2)))
        return event

    # transactions --------------------------------------------------------------------------

    @contextmanager
    def transaction(self, request: RequestInfo | None = None) -> Iterator[None]:
        """One atomic unit of work. Events are handed to the deliverer only after commit,
        so a rolled-back request never sends a webhook for a change that did not happen."""
        with self.store.lock:
            outer = not self.store._depth
            if outer:
                self._outgoing = []
                self.request = request or RequestInfo()
            try:
                with self.store.transaction():
                    yield
            except BaseException as error:
                keep = getattr(error, "keep_changes", False)
                if not keep and outer:
                    self._outgoing = []
                raise
            finally:
                if outer:
                    outgoing, self._outgoing = self._outgoing, []
                    self.request = RequestInfo()
                    for event_id, payload in outgoing:
                        self.deliverer.enqueue(event_id, payload)

    def close(self) -> None:
        self.deliverer.stop()
        self.store.close()


def clean(obj: Any) -> Any:
    """Drop store bookkeeping (``__seq``) from anything about to be returned."""
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items() if k != "__seq"}
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    return obj
