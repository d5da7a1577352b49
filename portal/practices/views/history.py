"""The History tab: the billing audit log (who changed what, and when)."""

from __future__ import annotations

from flask_login import login_required

from portal.htmx import render_page_or_fragment
from portal.practices import history as practice_history
from portal.practices.views.common import bp, load_manager
from portal.urls import page_arg


@bp.get("/<int:practice_id>/history")
@login_required
def history(practice_id: int):
    """The billing audit log, for the people who manage billing; htmx pages through it."""
    practice, member = load_manager(practice_id)
    return render_page_or_fragment(
        "practices/history.html",
        "practices/partials/_audit.html",
        practice=practice,
        member=member,
        audit=practice_history.audit_page(practice, page_arg()),
    )
