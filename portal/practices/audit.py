"""The billing audit log (the History tab): one line per change, written in the caller's transaction."""

from __future__ import annotations

from portal.extensions import db
from portal.practices.models import BillingAuditEntry, Practice


def record(practice: Practice, action: str, detail: str | None = None, actor_id: int | None = None) -> None:
    db.session.add(
        BillingAuditEntry(
            practice_id=practice.id, actor_id=actor_id, action=action, detail=(detail or "")[:500]
        )
    )
