"""The landing page, and the probes and metrics for load balancers and Prometheus.

``/healthz``: the process answers. ``/readyz``: it can serve pages (database, Redis when
configured; ``readiness.py``). ``/metrics``: Prometheus's scrape (``portal/metrics.py``). None
of them is throttled, needs a session or writes an access-log line.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, send_from_directory, url_for
from flask_login import current_user

from portal.extensions import limiter
from portal.main.readiness import metrics_text, readiness
from portal.metrics import check_scraper, content_type

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    return render_template("main/index.html")


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
