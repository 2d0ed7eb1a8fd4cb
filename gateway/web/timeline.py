"""An exchange's steps in words: agreements' timeline (who did what, when), and what its
payment claim and payout add (submitted, approved or sent back, paid, refused by the bank)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.web.i18n import N_
from gateway.web.render import euros

WHO = {
    "vo": N_("the visiting organisation"), "ho": N_("the host organisation"),
    "vop": N_("the visitor's partnership"), "hop": N_("the host's partnership"),
    "admin": N_("an administrator"), "system": N_("the platform"),
}

# %(who)s is the party (or parties) who acted.
DID = {
    "propose": N_("%(who)s proposed the exchange."),
    "confirm": N_("%(who)s confirmed the proposal."),
    "decline": N_("%(who)s declined the proposal."),
    "edit": N_("%(who)s changed the plan."),
    "submit": N_("%(who)s submitted the plan to both partnerships."),
    "approve": N_("%(who)s approved the plan."),
    "validate": N_("%(who)s approved the plan."),
    "reject": N_("%(who)s rejected the plan."),
    "sign": N_("%(who)s signed the commitment to quality."),
    "bank_details": N_("%(who)s gave the bank account for the lump sum."),
    "sign_financial_agreement": N_("%(who)s signed the financial agreement."),
    "start": N_("The stay started."),
    "complete": N_("The stay ended."),
    "report": N_("%(who)s submitted the closing report."),
    "host_report": N_("%(who)s submitted the host's closing report."),
    "approve_payout": N_("The exchange was approved for payment."),
    "pay": N_("The lump sum was paid."),
    "return_payout": N_("The bank returned the transfer: the exchange waits for the payment "
                        "again."),
    "close": N_("The exchange was closed."),
    "cancel": N_("%(who)s cancelled the exchange."),
    # What the payment side adds.
    "claim_submitted": N_("%(who)s submitted the payment claim with its evidence."),
    "claim_approved": N_("%(who)s approved the payment claim: %(amount)s."),
    "claim_changes_requested": N_("%(who)s sent the payment claim back for changes."),
    "payout_paid": N_("The bank paid %(amount)s to the visiting organisation."),
    "payout_failed": N_("The bank did not make the transfer of %(amount)s."),
}
OTHER = N_("%(who)s: %(action)s.")
AND = N_("%(first)s and %(second)s")


@dataclass(frozen=True)
class Step:
    at: datetime
    text: str
    comment: str | None
    payment: bool  # from the payment claim rather than the exchange's own timeline

    @property
    def iso(self) -> str:
        return self.at.isoformat()


def steps(timeline: list[dict[str, Any]], claim: dict[str, Any] | None,
          gettext: Callable[[str], str], locale: str = "en") -> list[Step]:
    """Every step, oldest first, each sentence (and amount) in the page's language."""

    def _step(*args: Any) -> Step:
        return _sentence(*args, gettext, locale)

    found = [_step(entry["at"], entry["party"], entry["action"], entry.get("comment"), None,
                   False) for entry in timeline]
    if claim:
        payout = claim.get("payout") or {}
        amount = payout.get("amount_cents")
        if claim.get("submitted_at"):
            found.append(_step(claim["submitted_at"], "vo", "claim_submitted", None, amount, True))
        reviewed = {"approved": "claim_approved", "changes_requested": "claim_changes_requested"}
        if claim.get("reviewed_at") and claim.get("state") in reviewed:
            found.append(_step(claim["reviewed_at"], "vop", reviewed[claim["state"]],
                               claim.get("review_comment"), amount, True))
        if payout.get("paid_at"):
            found.append(_step(payout["paid_at"], "system", "payout_paid", None, amount, True))
        if payout.get("failed_at"):
            found.append(_step(payout["failed_at"], "system", "payout_failed",
                               payout.get("failure_reason"), amount, True))
    return sorted(found, key=lambda step: step.at)


def _sentence(at: Any, party: str, action: str, comment: str | None, amount: int | None,
              payment: bool, gettext: Callable[[str], str], locale: str) -> Step:
    who = _who(party, gettext)
    template = DID.get(action)
    words = {"who": who, "action": action.replace("_", " "), "amount": euros(amount, locale)}
    text = gettext(template) % words if template else gettext(OTHER) % words
    return Step(_moment(at), text[:1].upper() + text[1:], comment or None, payment)


def _who(party: str, gettext: Callable[[str], str]) -> str:
    names = [gettext(WHO[p]) if p in WHO else p for p in (party or "system").split("+")]
    if len(names) == 1:
        return names[0]
    return gettext(AND) % {"first": ", ".join(names[:-1]), "second": names[-1]}


def _moment(value: Any) -> datetime:
    """RPC answers carry times as ISO strings or datetimes, with or without a zone (UTC)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
