"""The landing page and a health check for load balancers."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
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
