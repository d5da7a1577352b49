"""The Stripe.js stand-in in a real browser (Debian's Chromium), from a host page on another origin
with a strict CSP, as the portal uses it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from stripe_sandbox.testing import SandboxServer
from tests.sandbox.conftest import _Quiet

pytestmark = pytest.mark.e2e


HOST_JS = """
document.addEventListener('DOMContentLoaded', function () {
  var params = new URLSearchParams(window.location.search);
  var stripe = Stripe('pk_test_sandbox');
  var elements = stripe.elements();
  var card = elements.create('card');
  card.mount('#card');
  var state = document.getElementById('state');
  card.on('change', function (event) {
    state.textContent = JSON.stringify({complete: event.complete, error: event.error || null});
  });
  document.getElementById('go').addEventListener('click', function () {
    var secret = params.get('secret');
    var kind = params.get('kind');
    var call;
    if (kind === 'payment') {
      call = stripe.confirmCardPayment(secret, {payment_method: {card: card}});
    } else if (kind === 'create') {
      call = stripe.createPaymentMethod({type: 'card', card: card, billing_details: {email: 'a@b.test'}});
    } else if (kind === 'elements') {
      call = stripe.confirmSetup({elements: elements, clientSecret: secret, redirect: 'if_required',
                                  confirmParams: {return_url: 'https://portal.test/back'}});
    } else {
      var details = {name: 'Dr Who'};
      call = stripe.confirmCardSetup(secret, {payment_method: {card: card, billing_details: details}});
    }
    call.then(function (result) {
      document.getElementById('result').textContent = JSON.stringify(result);
    });
  });
});
"""


def _host_app(sandbox_url: str) -> Callable[..., Any]:
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Host</title>
<script src="{sandbox_url}/v3/"></script><script src="/host.js"></script></head>
<body><div id="card"></div><button id="go">Save</button>
<pre id="state"></pre><pre id="result"></pre></body></html>"""
    csp = (
        f"default-src 'self'; script-src 'self' {sandbox_url}; frame-src {sandbox_url}; "
        f"connect-src 'self' {sandbox_url}; style-src 'self'"
    )

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.path == "/host.js":
            response = Response(HOST_JS, mimetype="application/javascript")
        else:
            response = Response(page, mimetype="text/html")
            response.headers["Content-Security-Policy"] = csp
        return response(environ, start_response)

    return app


@pytest.fixture(scope="module")
def host(server: SandboxServer) -> Iterator[str]:
    http = make_server("127.0.0.1", 0, _host_app(server.url), threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


def _run(
    browser: Any, host: str, secret: str, number: str, kind: str = "setup", challenge: str | None = None
) -> dict[str, Any]:
    from playwright.sync_api import expect

    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{host}/?secret={secret}&kind={kind}")
    frame = page.frame_locator("iframe[title='Secure card payment input frame']")
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Expiration date").fill("1234")
    frame.get_by_label("CVC").fill("123")
    # Locator assertions run in Playwright's own world: the page's CSP (no eval) still holds for our code.
    expect(page.locator("#state")).to_contain_text('"complete":true')
    page.click("#go")
    if challenge:
        modal = page.frame_locator("iframe[name='stripe-challenge-frame']")
        modal.get_by_role("button", name=challenge).click()
    expect(page.locator("#result")).not_to_be_empty(timeout=10_000)
    result = json.loads(page.text_content("#result") or "{}")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.close()
    return result


def test_confirm_card_setup_succeeds(browser: Any, host: str, client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({})
    si = client.v1.setup_intents.create({"customer": customer.id})
    result = _run(browser, host, si.client_secret, "4242424242424242")
    assert result["setupIntent"]["status"] == "succeeded"
    pm = client.v1.payment_methods.retrieve(result["setupIntent"]["payment_method"])
    assert pm.customer == customer.id and pm.card.last4 == "4242" and pm.billing_details.name == "Dr Who"


def test_confirm_card_setup_3ds_complete_and_fail(
    browser: Any, host: str, client: stripe.StripeClient
) -> None:
    customer = client.v1.customers.create({})
    si = client.v1.setup_intents.create({"customer": customer.id})
    done = _run(browser, host, si.client_secret, "4000002500003155", challenge="Complete")
    assert done["setupIntent"]["status"] == "succeeded" and done["setupIntent"]["payment_method"].startswith(
        "pm_"
    )
    si = client.v1.setup_intents.create({"customer": customer.id})
    failed = _run(browser, host, si.client_secret, "4000002500003155", challenge="Fail")
    assert failed["error"]["type"] == "invalid_request_error"
    assert failed["error"]["code"] == "setup_intent_authentication_failure"


def test_declined_card_and_card_payment(browser: Any, host: str, client: stripe.StripeClient) -> None:
    si = client.v1.setup_intents.create({})
    declined = _run(browser, host, si.client_secret, "4000000000009995")
    assert declined["error"] == declined["error"] | {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    pi = client.v1.payment_intents.create({"amount": 2500, "currency": "usd"})
    paid = _run(browser, host, pi.client_secret, "4242424242424242", kind="payment")
    assert paid["paymentIntent"]["status"] == "succeeded"


def test_create_payment_method_and_confirm_setup(
    browser: Any, host: str, client: stripe.StripeClient
) -> None:
    created = _run(browser, host, "none", "5555555555554444", kind="create")
    pm = created["paymentMethod"]
    assert pm["card"]["brand"] == "mastercard" and pm["billing_details"]["email"] == "a@b.test"
    assert "number" not in json.dumps(pm)
    si = client.v1.setup_intents.create({})
    confirmed = _run(browser, host, si.client_secret, "4242424242424242", kind="elements")
    assert confirmed["setupIntent"]["status"] == "succeeded"
