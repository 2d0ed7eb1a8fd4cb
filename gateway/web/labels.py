"""Words for the codes the services return (states, sides), so that a page shows them in its
language: the code itself when a service adds one these do not know yet."""

from __future__ import annotations

from gateway.web.i18n import N_

# Registration, contact, exchange, claim, payout, payment run, support query and meeting states.
STATUS_LABELS = {
    "draft": N_("draft"),
    "submitted": N_("submitted"),
    "accepted": N_("accepted"),
    "rejected": N_("rejected"),
    "changes_requested": N_("changes requested"),
    "withdrawn": N_("withdrawn"),
    "open": N_("open"),
    "declined": N_("declined"),
    "expired": N_("expired"),
    "proposed": N_("proposed"),
    "validated": N_("validated"),
    "signed": N_("signed"),
    "ready": N_("ready"),
    "in_progress": N_("in progress"),
    "completed": N_("completed"),
    "reported": N_("reported"),
    "approved": N_("approved"),
    "paid": N_("paid"),
    "closed": N_("closed"),
    "cancelled": N_("cancelled"),
    "batched": N_("batched"),
    "failed": N_("failed"),
    "settled": N_("settled"),
    "pending": N_("pending"),
    "answered": N_("answered"),
    "booked": N_("booked"),
}

SIDE_LABELS = {"visitor": N_("visitor"), "host": N_("host")}


def status_text(status: str | None) -> str:
    """The English words of a state (translated where shown, with `_()`)."""
    if not status:
        return "—"
    return STATUS_LABELS.get(status, status.replace("_", " "))


def side_text(side: str | None) -> str:
    return SIDE_LABELS.get(side or "", side or "—")


# The labels of the reference data that CLDR does not name (countries and languages take
# their names from Babel's CLDR data): tests/unit/test_web_i18n.py fails when the data gains
# a label that is not listed here.
REFERENCE_LABELS = (
    # sectors (the EU industrial ecosystems)
    N_("Aerospace & defence"), N_("Agri-food"), N_("Construction"),
    N_("Cultural & creative industries"), N_("Digital"), N_("Electronics"),
    N_("Energy-intensive industries"), N_("Renewable energy"), N_("Health"),
    N_("Mobility, transport & automotive"), N_("Proximity, social economy & civil security"),
    N_("Retail"), N_("Textiles"), N_("Tourism"),
    # objectives
    N_("Learn from another cluster or country"), N_("Explore new markets"),
    N_("Adopt new technologies, digitalisation, green low-carbon solutions"),
    N_("Invest in interregional collaboration"),
    # activity types
    N_("Capacity building"), N_("Knowledge sharing"), N_("Project development / R&D"),
    N_("Market research"), N_("Networking"),
    # modes
    N_("physical"), N_("virtual"),
    # organisation types
    N_("Cluster organisation"), N_("Business network organisation"), N_("Technology centre"),
    N_("Research institute"), N_("Digital innovation hub"), N_("Fab lab"), N_("Creative hub"),
    N_("Resource-efficiency service provider"), N_("Incubator"), N_("Accelerator"), N_("SME"),
    N_("Large company"), N_("Public authority"),
)
CLDR_KINDS = {"countries": "territories", "languages": "languages"}


# The kinds of notification (event types) a person reads in their preferences; a kind missing
# here is shown as its code in words, in English (tests/unit/test_web_i18n.py lists them).
KIND_LABELS = {
    "account_invited": N_("Invitation to ClusterXchange"),
    "closing_report_submitted": N_("Closing report submitted"),
    "commitment_fully_signed": N_("Commitment fully signed"),
    "commitment_signed": N_("Commitment signed"),
    "contact_accepted": N_("Contact accepted"),
    "contact_declined": N_("Contact declined"),
    "contact_expired": N_("Contact expired"),
    "contact_requested": N_("Contact requested"),
    "email_verification_requested": N_("Email verification requested"),
    "exchange_cancelled": N_("Exchange cancelled"),
    "exchange_closed": N_("Exchange closed"),
    "exchange_completed": N_("Exchange completed"),
    "exchange_confirmed": N_("Exchange confirmed"),
    "exchange_proposed": N_("Exchange proposed"),
    "exchange_rejected": N_("Exchange rejected"),
    "exchange_started": N_("Exchange started"),
    "exchange_submitted": N_("Exchange submitted"),
    "exchange_validated": N_("Exchange validated"),
    "financial_agreement_signed": N_("Financial agreement signed"),
    "message_posted": N_("Message posted"),
    "password_changed": N_("Password changed"),
    "password_reset_requested": N_("Password reset requested"),
    "payout_approved": N_("Payout approved"),
    "payout_failed": N_("Payout failed"),
    "payout_paid": N_("Payout paid"),
    "registration_accepted": N_("Registration accepted"),
    "registration_changes_requested": N_("Registration changes requested"),
    "registration_rejected": N_("Registration rejected"),
    "registration_submitted": N_("Registration submitted"),
    "registration_withdrawn": N_("Registration withdrawn"),
    "signup_attempted_for_existing_account": N_("Signup attempted for existing account"),
}
