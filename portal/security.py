"""Security headers on every response, and the CSRF token our templates draw."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

#: Where a session keeps its signed CSRF token, beside the raw token it signs.
SIGNED_CSRF_TOKEN = "csrf_token_signed"
#: Set in ``g`` when a response draws a CSRF token (a page with a form).
CSRF_TOKEN_DRAWN = "csrf_token_drawn"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(stripe_js_url: str, stripe_api_base: str) -> str:
    """Our own origin plus exactly what Stripe.js needs (scripts, frames, API calls)."""
    js = _origin(stripe_js_url)
    api = _origin(stripe_api_base)
    real_stripe = js == "https://js.stripe.com"
    hooks = "https://hooks.stripe.com" if real_stripe else js
    # Form posts may redirect to Stripe's hosted checkout, portal and invoice pages.
    hosted = (
        "https://checkout.stripe.com https://billing.stripe.com https://invoice.stripe.com"
        if real_stripe
        else api
    )
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {js}",
            "style-src 'self'",
            "img-src 'self' data: " + js,
            f"connect-src 'self' {api} {js}",
            f"frame-src {js} {hooks}",
            f"form-action 'self' {hosted}",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "object-src 'none'",
        ]
    )


def init_security_headers(app: Flask) -> None:
    csp = content_security_policy(app.config["STRIPE_JS_URL"], app.config["STRIPE_API_BASE_EFFECTIVE"])

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if must_not_be_stored():
            response.headers["Cache-Control"] = "no-store"
        return response


def must_not_be_stored() -> bool:
    """Answers no cache (the browser's, for Back, nor a proxy's) may keep: whatever a signed-in
    person or an API token saw (billing state, cards, tokens), and every page holding a CSRF token.

    Static files stay cacheable; so do public pages without a form.
    """
    if request.endpoint == "static":
        return False
    return (
        g.get(CSRF_TOKEN_DRAWN, False)
        or current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token") in g  # Flask-WTF's own token
        or request.authorization is not None
        or request.method not in ("GET", "HEAD")  # a post's answer may carry a token or a secret
        or current_user.is_authenticated
    )


def init_csrf_tokens(app: Flask) -> None:
    """``csrf_token()`` in templates: signed once per session instead of on every page.

    Flask-WTF signs the session's raw token afresh on every request that draws a form (a
    serializer, a timestamp and an HMAC: the dearest step of drawing a page). Our tokens never
    expire (``WTF_CSRF_TIME_LIMIT = None``), so a token signed once stays valid for the session's
    life; the session keeps it with the raw token it signs and a new raw token (a new session at
    login) gets a new signature. Tokens with a time limit are left to Flask-WTF.
    """
    if app.config["WTF_CSRF_TIME_LIMIT"] is not None:
        return
    field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")

    def session_csrf_token() -> str:
        g.setdefault(CSRF_TOKEN_DRAWN, True)
        signed = session.get(SIGNED_CSRF_TOKEN)
        if signed is None or signed[0] != session.get(field):
            token = generate_csrf()
            session[SIGNED_CSRF_TOKEN] = signed = (session[field], token)
        return signed[1]

    app.jinja_env.globals["csrf_token"] = session_csrf_token
    # Flask-WTF also hands templates its own through a context processor; ours is registered later.
    app.context_processor(lambda: {"csrf_token": session_csrf_token})
