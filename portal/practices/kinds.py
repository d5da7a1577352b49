"""A member's role and a plan: the kinds a practice's rows name (``portal.practices.models`` uses them)."""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class MemberRole(enum.StrEnum):
    OWNER = "owner"  #: created the practice; manages billing and members
    ADMIN = "admin"  #: manages billing
    MEMBER = "member"  #: sees the billing status only

    @property
    def manages_billing(self) -> bool:
        return self in (MemberRole.OWNER, MemberRole.ADMIN)


#: The plans' names, as records keep them and as a reader reads them (``Plan.label``).
PLAN_RECORD_LABELS = {"monthly": "Monthly", "semiannual": "Every 6 months"}
PLAN_LABELS = {"monthly": _l("Monthly"), "semiannual": _l("Every 6 months")}


class Plan(enum.StrEnum):
    MONTHLY = "monthly"  #: billed every month
    SEMIANNUAL = "semiannual"  #: billed every 6 months

    @property
    def label(self) -> str:
        """The plan's name in the reader's language ("Gói tháng")."""
        return str(PLAN_LABELS[self.value])

    @property
    def lazy_label(self) -> object:
        """The name said when it is drawn: an email queued now reads in its recipient's language."""
        return PLAN_LABELS[self.value]

    @property
    def record_label(self) -> str:
        """The plan's name as History records it (English; said in the reader's words when shown)."""
        return PLAN_RECORD_LABELS[self.value]

    @property
    def lookup_key(self) -> str:
        return f"plan_{self.value}"
