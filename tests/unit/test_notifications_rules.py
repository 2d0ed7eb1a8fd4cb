"""Notifications: who hears what, and how the service is put together."""

from __future__ import annotations

from nameko.containers import ServiceContainer
from nameko.events import EventHandler
from nameko.rpc import Rpc
from nameko.timer import Timer, timer

from common.events import ALL_EVENTS, EVENTS_BY_SOURCE, SESSION_EVENTS, SUBSCRIPTIONS, Subscription
from services.notifications.domain import ACCOUNT_EMAILS, RULES
from services.notifications.service import NotificationsService, reactions_of


class _TimerMixin:
    @timer(interval=3600)
    def tick_from_a_mixin(self) -> None:
        pass

    def react_from_a_mixin(self, session, event) -> None:
        pass


class _Extended(_TimerMixin, NotificationsService):
    name = "notifications"


def test_entrypoints_of_mixins_are_found():
    container = ServiceContainer(_Extended, {"AMQP_URI": "memory://", "DATABASE_URLS": {}})
    found = {(type(ep).__name__, ep.method_name) for ep in container.entrypoints}
    assert ("Timer", "tick_from_a_mixin") in found
    assert any(isinstance(ep, Timer) for ep in container.entrypoints)
    # inherited from EventConsumption and PersonalInbox, two levels up
    assert any(isinstance(ep, EventHandler) and ep.method_name == "handle_payments_event"
               for ep in container.entrypoints)
    assert any(isinstance(ep, Rpc) and ep.method_name == "list_notifications"
               for ep in container.entrypoints)
    assert "react_from_a_mixin" in reactions_of(_Extended)
    assert "react_from_a_mixin" not in reactions_of(NotificationsService)


def test_one_queue_per_source_bound_to_every_event():
    mine = [s for s in SUBSCRIPTIONS if s.service == "notifications"]
    assert {s.source for s in mine} == set(EVENTS_BY_SOURCE)
    assert all(s.event_type == ALL_EVENTS for s in mine)
    name = Subscription("payments", ALL_EVENTS, "notifications", "handle_payments_event").queue_name
    assert name == "evt-payments-all--notifications.handle_payments_event"


def test_every_event_type_has_a_rule():
    every = {event for events in EVENTS_BY_SOURCE.values() for event in events}
    assert every == set(RULES) | set(ACCOUNT_EMAILS)


# --- who hears what -----------------------------------------------------------------------

from services.notifications import domain  # noqa: E402
from services.notifications.rendering import has_template, render  # noqa: E402

DIRECTORY = {
    "accounts": {a: {"account_id": a, "name": f"Name {a}", "email": f"{a}@example.eu"}
                 for a in ("owner", "visitor", "host", "cp1", "cp2", "cp3", "requester", "recipient")},
    "registrations": {
        "reg": {"registration_id": "reg", "account_id": "owner", "reference": "CX-1",
                "organisation_name": "Owner Org", "partnership_id": "p1"},
        "vreg": {"registration_id": "vreg", "account_id": "visitor", "organisation_name": "Visitor Org"},
        "hreg": {"registration_id": "hreg", "account_id": "host", "organisation_name": "Host Org"},
    },
    "contact_points": {"p1": [{"account_id": "cp1", "name": "C1", "email": "cp1@example.eu"},
                              {"account_id": "cp2", "name": "C2", "email": "cp2@example.eu"}],
                       "p2": [{"account_id": "cp3", "name": "C3", "email": "cp3@example.eu"}]},
    "partnerships": {"p1": {"name": "GreenMob"}, "p2": {"name": "TexCirc"}},
}


def _people(event_type: str, **payload) -> dict[str, tuple[str, bool]]:
    event = {"event_type": event_type, **payload}
    found = domain.recipients(event, domain.rules_for(event_type), DIRECTORY)
    return {person.account_id: (person.role, person.essential) for person in found}


def test_a_decision_goes_to_the_participant_not_to_the_contact_point_who_made_it():
    assert _people("registration_accepted", registration_id="reg", partnership_id="p1",
                   actor_id="cp1") == {"owner": ("participant", True)}


def test_a_submission_goes_to_every_contact_point_of_the_partnership():
    assert _people("registration_submitted", registration_id="reg", partnership_id="p1",
                   actor_id="owner") == {"cp1": ("contact_point", False), "cp2": ("contact_point", False)}


def test_a_message_goes_to_the_other_party_only():
    assert _people("message_posted", requester_account_id="requester", recipient_account_id="recipient",
                   actor_id="recipient", author_account_id="recipient") == {
        "requester": ("requester", False)}


def test_an_exchange_event_reaches_both_parties_and_both_partnerships():
    found = _people("exchange_cancelled", visitor_registration_id="vreg", host_registration_id="hreg",
                    visitor_partnership_id="p1", host_partnership_id="p2", actor_id="host")
    assert found == {"visitor": ("visitor", True), "cp1": ("visitor_contact_point", False),
                     "cp2": ("visitor_contact_point", False), "cp3": ("host_contact_point", False)}


def test_one_message_per_person_and_essential_wins():
    # The contact point is also the visitor's owner here: one recipient, essential.
    directory = {**DIRECTORY, "contact_points": {"p1": [{"account_id": "visitor", "name": "V",
                                                          "email": "v@example.eu"}]}}
    event = {"event_type": "payout_failed", "visitor_registration_id": "vreg", "partnership_id": "p1"}
    found = domain.recipients(event, domain.rules_for("payout_failed"), directory)
    assert [(p.account_id, p.role, p.essential) for p in found] == [("visitor", "visitor", True)]
    rules = (domain.Rule("visitor_contact_point", domain.CONTACT_POINTS, "partnership_id"),
             domain.Rule("visitor", domain.OWNER, "visitor_registration_id", essential=True))
    [upgraded] = domain.recipients(event, rules, directory)
    assert (upgraded.role, upgraded.essential) == ("visitor_contact_point", True)


def test_someone_registration_does_not_know_hears_nothing():
    assert _people("contact_requested", recipient_account_id="gone") == {}
    assert _people("registration_updated", registration_id="reg") == {}


def test_email_is_for_essential_messages_and_chosen_kinds():
    person = domain.Recipient("a", "A", "a@example.eu", "recipient", essential=False)
    assert domain.wants_email(person, "contact_requested", domain.DEFAULT_EMAIL_KINDS)
    assert not domain.wants_email(person, "message_posted", domain.DEFAULT_EMAIL_KINDS)
    assert not domain.wants_email(person, "contact_requested", [])
    essential = domain.Recipient("a", "A", "a@example.eu", "participant", essential=True)
    assert domain.wants_email(essential, "registration_accepted", [])


def test_lookups_ask_for_recipients_and_for_the_names_in_the_message():
    event = {"event_type": "contact_requested", "recipient_account_id": "recipient",
             "requester_registration_id": "r1", "recipient_registration_id": "r2"}
    assert domain.lookups(event, domain.rules_for("contact_requested")).as_request() == {
        "account_ids": ["recipient"], "registration_ids": ["r1", "r2"], "partnership_ids": []}


def test_the_kinds_a_person_may_choose_are_the_non_essential_ones():
    assert set(domain.DEFAULT_EMAIL_KINDS) <= set(domain.NON_ESSENTIAL_KINDS)
    assert "registration_accepted" in domain.ESSENTIAL_KINDS
    assert "registration_accepted" not in domain.NON_ESSENTIAL_KINDS
    assert set(domain.ACCOUNT_EMAILS) <= set(domain.ESSENTIAL_KINDS)


# --- templates ----------------------------------------------------------------------------

SAMPLE = {
    "event_id": "e1", "reference": "CXC-2026-000123", "registration_id": "reg", "status": "x",
    "partnership_id": "p1", "contact_id": "c1", "exchange_id": "x1", "start_date": "2027-03-01",
    "end_date": "2027-03-12", "mode": "physical", "party": "vo", "amount_cents": 110000,
    "due_on": "2027-04-01", "organisation": "Owner <Org>", "requester_organisation": "Req Org",
    "recipient_organisation": "Rec Org", "visitor_organisation": "Visitor Org",
    "host_organisation": "Host Org", "partnership": "GreenMob", "visitor_partnership": "GreenMob",
    "host_partnership": "TexCirc", "name": "Ana & Co", "essential": False, "kind": "x",
    "action_url": "https://cxc.example/a?b=1&c=2", "expires_at": "2027-01-01T10:00:00+00:00",
}


def _roles(event_type: str) -> set[str]:
    if event_type in domain.ACCOUNT_EMAILS:
        return {domain.ACCOUNT_OWNER}
    return {rule.role for rule in domain.rules_for(event_type)} or {"participant"}


def test_every_event_renders_for_every_role_in_text_and_html():
    for events in EVENTS_BY_SOURCE.values():
        for event_type in events:
            if event_type in SESSION_EVENTS:
                continue  # for token verifiers: nobody is told
            for role in _roles(event_type):
                message = render(event_type, role, "en", {**SAMPLE, "event_type": event_type},
                                 strict=True)
                assert message.subject and "\n" not in message.subject, event_type
                assert message.summary, event_type
                assert message.text.startswith("Hello Ana & Co,"), event_type
                assert "Hello Ana &amp; Co," in message.html, event_type
                assert "https://cxc.example/a?b=1&amp;c=2" in message.html, event_type
                assert "https://cxc.example/a?b=1&c=2" in message.text, event_type
                assert "{{" not in message.text + message.html, event_type


def test_html_escapes_what_people_typed_and_text_keeps_it():
    message = render("registration_accepted", "participant", "en",
                     {**SAMPLE, "organisation": "<script>x</script>"}, strict=True)
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "<script>x</script>" in message.text


def test_an_unknown_language_falls_back_to_english():
    english = render("contact_accepted", "requester", "en", SAMPLE, strict=True)
    assert render("contact_accepted", "requester", "pt", SAMPLE, strict=True) == english


def test_a_role_picks_its_wording():
    visitor = render("exchange_completed", "visitor", "en", SAMPLE, strict=True)
    host = render("exchange_completed", "host", "en", SAMPLE, strict=True)
    assert "Please write your closing report" in visitor.text
    assert "Please write your closing report" not in host.text
    assert "Thank you for hosting Visitor Org" in host.text


def test_a_chosen_email_says_how_to_stop_it_and_an_essential_one_does_not():
    chosen = render("contact_requested", "recipient", "en", {**SAMPLE, "essential": False}, strict=True)
    essential = render("contact_requested", "recipient", "en", {**SAMPLE, "essential": True}, strict=True)
    assert "notification preferences" in chosen.text and "notification preferences" in chosen.html
    assert "notification preferences" not in essential.text


def test_the_table_in_the_docs_is_the_rules():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| `?([\w—]+)`? \|[^|]*\|[^|]*\| (yes|no|—) \|$", doc, re.M)
    documented = {(event, role, essential) for event, role, essential in rows}
    expected = {(event, rule.role, "yes" if rule.essential else "no")
                for event, rules in RULES.items() for rule in rules}
    expected |= {(event, "—", "—") for event, rules in RULES.items() if not rules}
    expected |= {(event, domain.ACCOUNT_OWNER, "yes") for event in ACCOUNT_EMAILS}
    assert documented == expected


# --- French --------------------------------------------------------------------------------

FRENCH_EXTRA = {"since": "2027-01-04", "step": "payout", "last": True, "query_subject": "Dates",
                "query_reference": "SQ-2027-000001", "answer": "Oui.", "exchange_reference": None,
                "local_start": "Monday 07 December 2026, 10:00",
                "local_start_at": "2026-12-07T10:00:00+01:00", "utc_start": "2026-12-07T09:00:00Z"}


def _french_templates() -> list[str]:
    from services.notifications.rendering import TEMPLATES

    return sorted(path.stem for path in (TEMPLATES / "fr" / "events").glob("*.j2"))


def test_the_account_emails_and_the_most_common_events_are_in_french():
    assert {"email_verification_requested", "password_reset_requested", "password_changed",
            "signup_attempted_for_existing_account", "registration_accepted", "contact_requested",
            "exchange_proposed", "payout_paid", "step_reminder"} <= set(_french_templates())
    assert "fr" in domain.LANGUAGES


def test_every_french_template_renders_for_every_role_in_french():
    for event_type in _french_templates():
        roles = _roles(event_type) if domain.rules_for(event_type) or event_type in \
            domain.ACCOUNT_EMAILS else {"participant", "support_office", "visitor", "host"}
        for role in roles:
            message = render(event_type, role, "fr", {**SAMPLE, **FRENCH_EXTRA,
                                                      "event_type": event_type}, strict=True)
            assert message.subject and "\n" not in message.subject, event_type
            assert message.text.startswith("Bonjour Ana & Co,"), event_type
            assert '<html lang="fr">' in message.html and "Bonjour Ana &amp; Co," in message.html
            assert "Hello" not in message.text and "{{" not in message.text + message.html


def test_french_emails_write_dates_and_amounts_the_french_way():
    verify = render("email_verification_requested", domain.ACCOUNT_OWNER, "fr", SAMPLE, strict=True)
    assert verify.subject == "Confirmez votre adresse électronique"
    assert "jusqu'au 1er janvier 2027, 10:00 UTC" in verify.text
    paid = render("payout_paid", "visitor", "fr", SAMPLE, strict=True)
    assert "1\u202f100,00\xa0€" in paid.text
    proposed = render("exchange_proposed", "visitor", "fr", SAMPLE, strict=True)
    assert "du 1er mars 2027 au 12 mars 2027" in proposed.text
    meeting = render("support_meeting_booked", "participant", "fr", {**SAMPLE, **FRENCH_EXTRA},
                     strict=True)
    assert "lundi 7 décembre 2026, 10:00" in meeting.text and "7 décembre 2026, 09:00 UTC" in meeting.text
    assert render("payout_paid", "visitor", "en", SAMPLE, strict=True).summary.startswith("€1,100.00")


def test_an_event_without_a_french_template_falls_back_to_english_in_its_lang():
    untranslated = next(kind for kind in domain.RULES if kind not in _french_templates()
                        and has_template(kind))
    role = sorted(_roles(untranslated))[0]
    message = render(untranslated, role, "fr", {**SAMPLE, **FRENCH_EXTRA}, strict=True)
    assert message.text.startswith("Hello Ana & Co,")  # one language, the layout's too
    assert '<html lang="en">' in message.html and "Bonjour" not in message.html
