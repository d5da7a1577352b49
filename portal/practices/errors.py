"""The practices' refusals: what a person is told when an action cannot be done."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.errors import UserError
from portal.text import N_


class PracticeError(UserError):
    """A refusal the person can act on."""

    code = "practice_error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        # Said in the language of the person refused: a msgid kept in English (``N_``, such as
        # ``CLOSED``) is translated here; words already said (``_()``, Stripe's own) stay as they are.
        super().__init__(_(str(message)), status=status, code=code)


#: The refusal of a billing action to a plain member.
BILLING_MANAGERS_ONLY = N_("Only the practice's owner and admins can manage its billing.")
#: The refusal of an invitation (or cancelling one) to a plain member.
INVITERS_ONLY = N_("Only the practice's owner and admins can invite people.")


class NotAllowed(PracticeError):
    """Refused for the person's role; the message says who may do this particular thing."""

    status = 403
    code = "forbidden"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class PracticeNotFound(PracticeError):
    """Not a practice of this person: the same answer whether it exists or not."""

    status = 404
    code = "not_found"

    def __init__(self) -> None:
        super().__init__(N_("That practice does not exist."))


#: The answer to a billing action on a practice the platform closed.
CLOSED = N_(
    "This practice was closed by the platform, so its billing cannot be changed. Nothing was changed."
)
#: An open invoice an ended subscription left (``Practice.collects``): Pay now and the bank's check.
NOT_COLLECTED = N_("This invoice's subscription has ended, so it is not collected. Nothing was charged.")


class BankCheckNeeded(PracticeError):
    """Pay now reached the bank, which wants the payer to confirm (3-D Secure): not a refusal but the
    way on, to the portal's page that runs the check for ``invoice_id`` of ``practice_id``."""

    status = 402
    code = "authentication_required"

    def __init__(self, practice_id: int, invoice_id: str) -> None:
        super().__init__(N_("Your bank needs you to confirm this payment."))
        self.practice_id = practice_id
        self.invoice_id = invoice_id
