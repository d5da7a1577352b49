"""The landing page, the language switcher, and the probes and metrics for load balancers and Prometheus.

``/healthz``: the process answers. ``/readyz``: it can serve pages (database, Redis when
configured; ``readiness.py``). ``/metrics``: Prometheus's scrape (``portal/metrics.py``). None
of them is throttled, needs a session or writes an access-log line.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user

from portal.after_response import run_after_response
from portal.customers.users import push_user_language
from portal.extensions import limiter
from portal.i18n import LOCALE_COOKIE, LOCALE_COOKIE_MAX_AGE
from portal.main.readiness import metrics_text, readiness
from portal.metrics import check_scraper, content_type
from portal.redirects import local_redirect_target
from portal.users import preferences

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    return render_template("main/index.html")


@bp.post("/locale")
def set_locale():
    """The header's switcher: saved on the account of a signed-in person, in a cookie for a visitor
    (kept for both, so the choice outlives a log-out). Back to the page it was sent from."""
    if current_user.is_authenticated:
        locale = preferences.save_locale(current_user._get_current_object(), request.form.get("locale"))
        run_after_response(push_user_language, current_user.id)  # Stripe's emails follow it
    else:
        locale = preferences.checked_locale(request.form.get("locale"))
    response = redirect(local_redirect_target(request.form.get("next"), url_for("main.index")), 303)
    response.set_cookie(
        LOCALE_COOKIE,
        locale,
        max_age=LOCALE_COOKIE_MAX_AGE,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.get("/healthz")
@limiter.exempt
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@limiter.exempt
def readyz():
    ready, checks = readiness()
    return {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503


@bp.get("/metrics")
@limiter.exempt
def metrics():
    check_scraper()
    return Response(metrics_text(), content_type=content_type())


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it at the root whatever the page links; the pages link the SVG."""
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=86400)
