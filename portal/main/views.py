"""The landing page and a health check for load balancers."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, send_from_directory, url_for
from flask_login import current_user

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("auth.account"))
    return render_template("main/index.html")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it at the root whatever the page links; the pages link the SVG."""
    return send_from_directory(current_app.static_folder, "favicon.ico", max_age=86400)
