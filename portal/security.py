"""Security headers on every response."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request


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
        return response
