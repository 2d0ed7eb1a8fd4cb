"""A participant's pages: the registration wizard and its status, matches, the catalogue,
contacts and their conversations."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from common.errors import AppError, NotFound
from gateway.web.forms import flatten_errors, nested
from gateway.web.i18n import N_
from gateway.web.pages import WebRoutes, page, see_other
from gateway.web.session import WebRequest

# The wizard: each step, its title and the form fields it edits.
STEPS: dict[str, dict[str, Any]] = {
    "organisation": {"title": N_("Organisation and role"), "fields": dict(
        scalars=("partnership_id", "organisation.name", "organisation.type",
                 "organisation.country", "organisation.city", "organisation.website",
                 "organisation.cluster_name", "organisation.description"),
        lists=("roles",), integers=("organisation.employees",),
        booleans=("organisation.cluster_member",))},
    "representative": {"title": N_("Representative"), "fields": dict(
        scalars=("representative.first_name", "representative.last_name",
                 "representative.email", "representative.phone", "representative.position",
                 "representative.date_of_birth", "representative.nationality",
                 "representative.residence_country"),
        integers=("representative.residence_days",),
        booleans=("representative.residence_permit",))},
    "motivation": {"title": N_("Motivation"), "fields": dict(scalars=("motivation", "expertise"))},
    "preferences": {"title": N_("Preferences"), "fields": dict(
        lists=("preferences.sectors", "preferences.objectives", "preferences.activity_types",
               "preferences.languages", "preferences.modes", "preferences.target_countries"),
        integers=("preferences.host_capacity",))},
    "cv": {"title": N_("CV"), "fields": {}},
    "review": {"title": N_("Review and submit"), "fields": {}},
}
STEP_NAMES = tuple(STEPS)
OPEN = ("draft", "changes_requested")


class ParticipantPages(WebRoutes):
    # --- the participant's home ---------------------------------------------------------

    @page("GET", "/dashboard")
    def page_dashboard(self, web: WebRequest) -> Response:
        roles = web.account.get("roles") or []
        if "partnership_contact" in roles or "admin" in roles:
            return see_other("/contact-point")
        registration = self._current_registration(web)
        eligibility = (self._web(web, "registration", "check_eligibility", registration["id"])
                       if registration else None)
        exchanges = self._web(web, "agreements", "list_exchanges", {})["items"] \
            if registration and registration["status"] == "accepted" else []
        return self._page(web, "dashboard.html", title=N_("My registration"), section="dashboard",
                          registration=registration, eligibility=eligibility, exchanges=exchanges)

    def _current_registration(self, web: WebRequest) -> dict[str, Any] | None:
        found = self._web(web, "registration", "list_registrations", {"per_page": "20"})["items"]
        active = [r for r in found if r["status"] != "withdrawn"]
        return (active or found or [None])[0]

    # --- the registration wizard --------------------------------------------------------

    @page("GET", "/registration/new")
    def page_new_registration(self, web: WebRequest) -> Response:
        existing = self._current_registration(web)
        if existing and existing["status"] != "withdrawn":
            return see_other(f"/registration/{existing['id']}/organisation")
        return self._wizard(web, None, "organisation", {}, "")

    @page("POST", "/registration/new")
    def page_create_registration(self, web: WebRequest) -> Response:
        body = nested(web.form, **STEPS["organisation"]["fields"])
        try:
            created = self._web(web, "registration", "create_registration", body, idempotent=True)
        except AppError as exc:
            if exc.status not in (409, 422):
                raise
            return self._wizard(web, None, "organisation", flatten_errors(exc.errors), exc.detail,
                                status=exc.status, values=web.form)
        return see_other(f"/registration/{created['id']}/representative")

    @page("GET", "/registration/<string:registration_id>/<string:step>")
    def page_registration_step(self, web: WebRequest, registration_id: str, step: str) -> Response:
        if step not in STEPS:
            raise NotFound("No such step.")
        registration = self._web(web, "registration", "get_registration", registration_id)
        return self._wizard(web, registration, step, {}, "")

    @page("POST", "/registration/<string:registration_id>/<string:step>")
    def page_save_step(self, web: WebRequest, registration_id: str, step: str) -> Response:
        if step not in STEPS:
            raise NotFound("No such step.")
        try:
            if step == "cv":
                self._store_cv(web.request, registration_id)
            elif step == "review":
                self._web(web, "registration", "submit_registration", registration_id,
                          _version(web))
                web.say(N_("Your registration is submitted. Your partnership's contact point "
                           "will assess it."))
                return see_other("/dashboard")
            else:
                body = nested(web.form, **STEPS[step]["fields"])
                if step == "preferences":
                    body.setdefault("preferences", {})["availability"] = _availability(web)
                body["version"] = _version(web)
                self._web(web, "registration", "update_registration", registration_id, body)
        except AppError as exc:
            if exc.status not in (400, 409, 413, 415, 422, 428) and not (
                    step == "review" and exc.status == 403):  # the address is not verified yet
                raise
            registration = self._web(web, "registration", "get_registration", registration_id)
            return self._wizard(web, registration, step, flatten_errors(exc.errors), exc.detail,
                                status=exc.status, values=web.form)
        following = STEP_NAMES[min(STEP_NAMES.index(step) + 1, len(STEP_NAMES) - 1)]
        return see_other(f"/registration/{registration_id}/{following}")

    def _wizard(self, web: WebRequest, registration: dict[str, Any] | None, step: str,
                errors: dict[str, list[str]], detail: str, status: int = 200,
                values: Any = None) -> Response:
        eligibility = (self._web(web, "registration", "check_eligibility", registration["id"])
                       if registration else None)
        partnerships = self._partnerships(web)
        # Read again on the last step: the address may have been verified a moment ago.
        email_verified = (web.account or {}).get("email_verified", True)
        if step == "review" and not email_verified:
            web.account = self._web(web, "registration", "get_me")
            email_verified = web.account.get("email_verified", True)
        return self._page(web, "wizard.html", status=status, title=N_("Registration"),
                          section="dashboard", registration=registration, step=step, steps=STEPS,
                          step_names=STEP_NAMES, errors=errors, detail=detail,
                          eligibility=eligibility, partnerships=partnerships,
                          email_verified=email_verified,
                          values=values if values is not None else _form_values(registration))

    @page("POST", "/registration/<string:registration_id>/withdraw")
    def page_withdraw(self, web: WebRequest, registration_id: str) -> Response:
        self._web(web, "registration", "withdraw_registration", registration_id)
        web.say(N_("Your registration is withdrawn."), "info")
        return see_other("/dashboard")

    # --- finding a partner --------------------------------------------------------------

    @page("GET", "/matches")
    def page_matches(self, web: WebRequest) -> Response:
        registration = self._current_registration(web)
        found: list[dict[str, Any]] = []
        if registration and registration["status"] == "accepted":
            found = self._web(web, "matching", "get_matches",
                              {"registration_id": registration["id"]})["items"]
        return self._page(web, "matches.html", title=N_("Best matches"), section="matches",
                          registration=registration, matches=found)

    @page("GET", "/catalogue")
    def page_catalogue(self, web: WebRequest) -> Response:
        query = {k: v for k, v in web.request.args.items() if v and k in (
            "q", "role", "country", "sector", "language", "mode", "page")}
        result, errors, detail = {"items": [], "total": 0, "page": 1, "per_page": 20}, {}, ""
        try:
            result = self._web(web, "matching", "search_catalogue", query)
        except AppError as exc:
            if exc.status not in (403, 422):
                raise
            errors, detail = flatten_errors(exc.errors), exc.detail
        return self._page(web, "catalogue.html", title=N_("Catalogue"), section="catalogue",
                          result=result, query=query, errors=errors, detail=detail,
                          partial="catalogue_results.html")

    # --- contacts -----------------------------------------------------------------------

    @page("GET", "/contacts")
    def page_contacts(self, web: WebRequest) -> Response:
        found = self._web(web, "matching", "list_contacts", {"per_page": "100"})["items"]
        return self._page(web, "contacts.html", title=N_("Contacts"), section="contacts",
                          contacts=found)

    @page("POST", "/contacts")
    def page_ask_contact(self, web: WebRequest) -> Response:
        body = {"registration_id": web.form.get("registration_id", ""),
                "message": (web.form.get("message") or "").strip()}
        try:
            contact = self._web(web, "matching", "create_contact", body, idempotent=True)
        except AppError as exc:
            if exc.status not in (409, 422):
                raise
            web.say(exc.detail, "error")
            return see_other(web.form.get("back") or "/matches")
        web.say(N_("Your contact request is sent."))
        return see_other(f"/contacts/{contact['id']}")

    @page("GET", "/contacts/<string:contact_id>")
    def page_contact(self, web: WebRequest, contact_id: str) -> Response:
        found = self._web(web, "matching", "get_contact", contact_id)
        messages = (self._web(web, "matching", "list_messages", contact_id, {"per_page": "100"})
                    ["items"] if found["status"] == "accepted" else [])
        return self._page(web, "contact.html", title=N_("Conversation"), section="contacts",
                          contact=found, messages=messages, partial="messages.html")

    @page("POST", "/contacts/<string:contact_id>/answer")
    def page_answer_contact(self, web: WebRequest, contact_id: str) -> Response:
        accept = web.form.get("answer") == "accept"
        self._web(web, "matching", "answer_contact", contact_id, accept)
        web.say(N_("You accepted the contact request.") if accept
                else N_("You declined the contact request."), "success" if accept else "info")
        return see_other(f"/contacts/{contact_id}")

    @page("POST", "/contacts/<string:contact_id>/messages")
    def page_write_message(self, web: WebRequest, contact_id: str) -> Response:
        body = {"body": (web.form.get("body") or "").strip()}
        try:
            self._web(web, "matching", "post_message", contact_id, body, idempotent=True)
        except AppError as exc:
            if exc.status != 422:
                raise
            web.say(exc.detail, "error")
        if web.request.headers.get("HX-Request") == "true":
            return self.page_contact.__wrapped__(self, web, contact_id)
        return see_other(f"/contacts/{contact_id}")


def _version(web: WebRequest) -> int | None:
    raw = web.form.get("version", "")
    return int(raw) if raw.isdigit() else None


def _availability(web: WebRequest) -> list[dict[str, str]]:
    windows = []
    for index in (0, 1):
        start = web.form.get(f"preferences.availability.{index}.start", "").strip()
        end = web.form.get(f"preferences.availability.{index}.end", "").strip()
        if start or end:
            windows.append({"start": start, "end": end})
    return windows


def _form_values(registration: dict[str, Any] | None) -> dict[str, Any]:
    """A registration as the wizard's dotted field names."""
    if not registration:
        return {}
    values: dict[str, Any] = {"partnership_id": registration.get("partnership_id"),
                              "roles": registration.get("roles") or [],
                              "motivation": registration.get("motivation"),
                              "expertise": registration.get("expertise")}
    for group in ("organisation", "representative", "preferences"):
        for key, value in (registration.get(group) or {}).items():
            values[f"{group}.{key}"] = value
    for index, window in enumerate((registration.get("preferences") or {}).get("availability") or []):
        values[f"preferences.availability.{index}.start"] = window.get("start")
        values[f"preferences.availability.{index}.end"] = window.get("end")
    return values
