"""Only genuine, fresh, well-formed Stripe deliveries get past ``verify_event``."""

from __future__ import annotations

import json
import string
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.extensions import db
from portal.gateway.errors import InvalidWebhook
from portal.gateway.webhooks import parse_secrets, sign_payload, verify_event
from portal.webhooks.models import WebhookEvent
from tests.stripe_payloads import OLD_SECRET, SECRET, make_event, payment_method, signature
from tests.webhooks.conftest import count

SECRETS = [SECRET, OLD_SECRET]


def _body(**overrides) -> bytes:
    event = make_event("payment_method.attached", payment_method("pm_1", "cus_1"))
    event.update(overrides)
    return json.dumps(event).encode()


def test_returns_the_event_as_a_plain_dict():
    body = _body()
    event = verify_event(body, signature(body), SECRETS)
    assert type(event) is dict and type(event["data"]["object"]) is dict
    assert event == json.loads(body)


def test_our_header_matches_the_sdks():
    body = _body()
    now = int(time.time())
    assert sign_payload(body, SECRET, now) == signature(body, SECRET, now)


@pytest.mark.parametrize("secret", [SECRET, OLD_SECRET])
def test_any_configured_secret_verifies(secret):
    body = _body()
    assert verify_event(body, signature(body, secret), SECRETS)["id"]


def test_several_signatures_in_one_header_are_fine():
    """During Stripe's own rotation a header carries one v1 per secret."""
    body = _body()
    now = int(time.time())
    other = signature(body, "whsec_unknown", now).split(",")[1]
    assert verify_event(body, f"{signature(body, SECRET, now)},{other}", SECRETS)


@pytest.mark.parametrize(
    "offset, ok",
    [(-299, True), (0, True), (299, True), (-301, False), (301, False), (-86400, False), (86400, False)],
)
def test_the_timestamp_window_is_300_seconds_both_ways(offset, ok):
    body = _body()
    now = 1_800_000_000
    header = signature(body, SECRET, now + offset)
    if ok:
        assert verify_event(body, header, SECRETS, now=now)
    else:
        with pytest.raises(InvalidWebhook, match="tolerance"):
            verify_event(body, header, SECRETS, now=now)


@pytest.mark.parametrize(
    "body, header_for, secrets",
    [
        pytest.param(_body(), lambda b: None, SECRETS, id="no header"),
        pytest.param(_body(), lambda b: "", SECRETS, id="empty header"),
        pytest.param(_body(), lambda b: signature(b), [], id="no secret configured"),
        pytest.param(_body(), lambda b: signature(b, "whsec_wrong"), SECRETS, id="wrong secret"),
        pytest.param(_body(), lambda b: signature(b + b" "), SECRETS, id="tampered body"),
        pytest.param(_body(), lambda b: signature(b, scheme="v0"), SECRETS, id="v0 only"),
        pytest.param(_body(), lambda b: f"t={int(time.time())}", SECRETS, id="no signature"),
        pytest.param(_body(), lambda b: "v1=abc", SECRETS, id="no timestamp"),
        pytest.param(_body(), lambda b: signature(b).replace("t=", "t=+"), SECRETS, id="signed timestamp"),
        pytest.param(_body(), lambda b: f"t=1_7,{signature(b).split(',')[1]}", SECRETS, id="odd timestamp"),
        pytest.param(_body(), lambda b: signature(b) + ",t=1", SECRETS, id="two timestamps"),
        pytest.param(_body(), lambda b: "t=1,v1=é", SECRETS, id="non-ascii signature"),
        pytest.param(b"\xff\xfe{}", lambda b: f"t={int(time.time())},v1=00", SECRETS, id="not utf-8"),
        pytest.param(b'{"id": "evt_1", "object": "event"', signature, SECRETS, id="truncated json"),
        pytest.param(b"[]", signature, SECRETS, id="json but a list"),
        pytest.param(b'{"object": "event"}', signature, SECRETS, id="event without id"),
        pytest.param(_body(object="customer"), signature, SECRETS, id="not an event object"),
        pytest.param(_body(data={"object": None}), signature, SECRETS, id="no data.object"),
        pytest.param(_body(created="yesterday"), signature, SECRETS, id="created not an int"),
        pytest.param(_body(created=10**30), signature, SECRETS, id="created out of range"),
        pytest.param(_body(type=""), signature, SECRETS, id="empty type"),
    ],
)
def test_rejects(body, header_for, secrets):
    with pytest.raises(InvalidWebhook):
        verify_event(body, header_for(body), secrets)


def test_parse_secrets_for_rotation():
    assert parse_secrets(" whsec_new, whsec_old ,,") == ["whsec_new", "whsec_old"]
    assert parse_secrets(None) == [] and parse_secrets("") == []


# --- 1,000 bad deliveries through HTTP: every one answered 400, none stored -------------------------

KINDS = (
    "unsigned",
    "tampered",
    "wrong_secret",
    "malformed_json",
    "not_an_event",
    "stale",
    "future",
    "garbage_header",
    "mangled_header",
)
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=120
)


@st.composite
def bad_deliveries(draw) -> tuple[str, bytes, dict[str, str]]:
    kind = draw(st.sampled_from(KINDS))
    pm_id = "pm_" + draw(st.text(string.ascii_letters + string.digits, min_size=1, max_size=24))
    body = _body(id="evt_" + pm_id[3:], data={"object": payment_method(pm_id, "cus_1")})
    now = int(time.time())
    header = signature(body)
    if kind == "unsigned":
        return kind, body, {}
    if kind == "tampered":
        at = draw(st.integers(0, len(body) - 1))
        replacement = draw(st.binary(min_size=1, max_size=3).filter(lambda b: b != body[at : at + len(b)]))
        return kind, body[:at] + replacement + body[at + len(replacement) :], {"Stripe-Signature": header}
    if kind == "wrong_secret":
        secret = "whsec_" + draw(st.text(string.ascii_letters, min_size=1, max_size=30))
        secret = secret if secret not in SECRETS else secret + "x"
        return kind, body, {"Stripe-Signature": signature(body, secret)}
    if kind == "malformed_json":
        junk = draw(
            st.one_of(st.text(max_size=200).map(str.encode), st.just(body[: draw(st.integers(0, 50))]))
        )
        return kind, junk, {"Stripe-Signature": signature(junk)}
    if kind == "not_an_event":
        value = draw(
            st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10), _containers)
        )
        junk = json.dumps(value).encode()
        return kind, junk, {"Stripe-Signature": signature(junk)}
    if kind == "stale":
        return (
            kind,
            body,
            {"Stripe-Signature": signature(body, timestamp=now - draw(st.integers(310, 10**9)))},
        )
    if kind == "future":
        return (
            kind,
            body,
            {"Stripe-Signature": signature(body, timestamp=now + draw(st.integers(310, 10**9)))},
        )
    if kind == "garbage_header":
        return kind, body, {"Stripe-Signature": draw(header_text)}
    # mangled_header: a real header with one part cut, changed or duplicated
    t_part, v_part = header.split(",")
    choice = draw(st.sampled_from(["drop_t", "drop_v", "flip_v", "junk_t", "prefix"]))
    mangled = {
        "drop_t": v_part,
        "drop_v": t_part,
        "flip_v": v_part[:-1] + ("0" if v_part[-1] != "0" else "1") + "," + t_part,
        "junk_t": f"t={draw(header_text)},{v_part}",
        "prefix": draw(header_text) + v_part,
    }[choice]
    return kind, body, {"Stripe-Signature": mangled}


def _containers(children):
    return st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=bad_deliveries())
def test_bad_deliveries_get_400_and_write_nothing(client, delivery):
    kind, body, headers = delivery
    response = client.post("/webhooks/stripe", data=body, headers=headers, content_type="application/json")
    assert response.status_code == 400, (kind, body, headers)
    assert count(WebhookEvent) == 0
    db.session.rollback()
