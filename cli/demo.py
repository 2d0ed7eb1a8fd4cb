"""A realistic demo data set: contact points for every partnership and participants in
several countries at every stage of registration.

It is made through registration's own service functions, as the API would (sign up, sign in,
draft, CV, submit, assessment by the partnership's contact point), so the same rules hold
and the same events wait in the outbox for matching and the back-offices.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from common.errors import Conflict

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed for the demo on purpose
DOMAIN = "demo.clusterxchange.eu"
ADMIN_EMAIL = f"admin@{DOMAIN}"

PARTICIPANTS = [
    # name, org, type, country, city, lat, lon, roles, sectors, languages, status
    ("Ana Ferreira", "Cluster Têxtil Norte", "cluster_organisation", "PT", "Porto", 41.15, -8.61,
     ["visitor"], ["textiles", "cultural_creative"], ["pt", "en", "es"], "accepted"),
    ("Jonas Weber", "Mobility Cluster Bavaria", "cluster_organisation", "DE", "Munich", 48.14,
     11.58, ["host"], ["mobility_transport_automotive", "digital"], ["de", "en"], "accepted"),
    ("Giulia Romano", "AgriTech Hub Emilia", "digital_innovation_hub", "IT", "Bologna", 44.49,
     11.34, ["visitor", "host"], ["agri_food", "digital"], ["it", "en"], "accepted"),
    ("Piotr Nowak", "Silesia Green Energy Cluster", "cluster_organisation", "PL", "Katowice",
     50.26, 19.02, ["visitor"], ["renewable_energy", "energy_intensive"], ["pl", "en"],
     "submitted"),
    ("Elena Popescu", "Transilvania Textile SME", "sme", "RO", "Cluj-Napoca", 46.77, 23.59,
     ["visitor"], ["textiles"], ["ro", "en", "fr"], "submitted"),
    ("Mikkel Hansen", "Danish Health Tech Cluster", "cluster_organisation", "DK", "Odense",
     55.40, 10.39, ["host"], ["health", "digital"], ["da", "en"], "accepted"),
    ("Marija Kovač", "Adriatic Tourism Network", "business_network_organisation", "HR", "Split",
     43.51, 16.44, ["visitor", "host"], ["tourism", "proximity_social_economy"], ["hr", "en", "it"],
     "accepted"),
    ("Luis García", "Basque Aerospace Fab Lab", "fab_lab", "ES", "Bilbao", 43.26, -2.93,
     ["visitor"], ["aerospace_defence", "electronics"], ["es", "eu", "en"], "draft"),
    ("Ayşe Demir", "Istanbul Textile Accelerator", "accelerator", "TR", "Istanbul", 41.01, 28.98,
     ["visitor"], ["textiles", "retail"], ["tr", "en"], "accepted"),
    ("Olena Shevchenko", "Kyiv Renewable Cluster", "cluster_organisation", "UA", "Kyiv", 50.45,
     30.52, ["visitor"], ["renewable_energy"], ["uk", "en"], "changes_requested"),
    ("Claire Martin", "Aerospace Valley Network", "cluster_organisation", "FR", "Toulouse", 43.60,
     1.44, ["host"], ["aerospace_defence", "electronics"], ["fr", "en"], "accepted"),
    ("Bram de Vries", "Food Valley Brainport", "cluster_organisation", "NL", "Wageningen", 51.97,
     5.67, ["host"], ["agri_food", "health"], ["nl", "en", "de"], "accepted"),
]
DECISIONS = {"accepted": "accept", "changes_requested": "request_changes"}


@dataclass(frozen=True)
class Login:
    role: str
    email: str
    partnership: str  # its code, or "-"
    status: str = "-"  # a participant's registration


def seed_demo(registration: Any, admin_token: str) -> Iterator[str]:
    """`registration` is a cli.local.LocalService of the registration service; yields what it
    did, then the table of demo logins."""
    try:
        registration.call("create_staff_account", {
            "email": ADMIN_EMAIL, "password": DEMO_PASSWORD, "full_name": "Programme Admin",
            "roles": ["admin"]}, token=admin_token)
    except Conflict:
        yield "demo data already present"
        yield from login_table(_logins(registration.call("list_partnerships")))
        return
    registration.call("create_staff_account", {
        "email": f"support@{DOMAIN}", "password": DEMO_PASSWORD, "full_name": "Support Desk",
        "roles": ["support_agent"]}, token=admin_token)
    partnerships = registration.call("list_partnerships")
    for partnership in partnerships:
        registration.call("create_staff_account", {
            "email": contact_email(partnership["code"]), "password": DEMO_PASSWORD,
            "full_name": f"{partnership['name']} contact point", "roles": ["partnership_contact"],
            "partnership_code": partnership["code"]}, token=admin_token)
    yield f"demo staff: an administrator, a support agent, {len(partnerships)} contact points"

    by_sector: dict[str, dict[str, Any]] = {}
    for partnership in partnerships:
        for sector in partnership["sectors"]:
            by_sector.setdefault(sector, partnership)
    for index, row in enumerate(PARTICIPANTS):
        partnership = by_sector.get(row[8][0]) or partnerships[0]
        _participant(registration, admin_token, index, row, partnership)
    yield f"{len(PARTICIPANTS)} demo participants, from draft to accepted"
    yield from login_table(_logins(partnerships))


def contact_email(code: str) -> str:
    return f"contact.{code.lower()}@{DOMAIN}"


def participant_email(index: int, name: str) -> str:
    first = unicodedata.normalize("NFKD", name.split(" ", 1)[0].lower())
    return f"{first.encode('ascii', 'ignore').decode()}.{index}@{DOMAIN}"


def _participant(registration: Any, admin_token: str, index: int, row: tuple,
                 partnership: dict[str, Any]) -> None:
    (name, org_name, org_type, country, city, lat, lon, roles, sectors, languages, status) = row
    first, last = name.split(" ", 1)
    email = participant_email(index, name)
    # Made by the operator, so verified: a sign-up's address waits for its verification link.
    registration.call("create_staff_account", {"email": email, "password": DEMO_PASSWORD,
                                               "full_name": name, "roles": ["participant"]},
                      token=admin_token)
    token = _sign_in(registration, email)
    needs_membership = org_type not in ("cluster_organisation", "business_network_organisation")
    start = date.today() + timedelta(days=30 + 7 * index)
    draft = registration.call("create_registration", {
        "partnership_id": partnership["id"], "roles": roles,
        "organisation": {
            "name": org_name, "type": org_type, "country": country, "city": city,
            "latitude": lat, "longitude": lon, "employees": 12 + index * 7,
            "cluster_member": needs_membership,
            "cluster_name": f"{city} Industry Cluster" if needs_membership else None,
            "website": f"https://example.org/{org_name.split()[0].lower()}",
            "description": f"{org_name} supports companies in {city}."},
        "representative": {"first_name": first, "last_name": last, "email": email,
                           "position": "Cluster manager", "date_of_birth": "1985-04-12",
                           "nationality": country},
        "motivation": f"We want to learn how other clusters in {', '.join(sectors)} grow "
                      "internationally and build lasting partnerships.",
        "expertise": f"{org_name}: {', '.join(sectors)}; cluster management and "
                     "internationalisation.",
        "preferences": {"sectors": sectors, "objectives": ["learn", "explore_markets"],
                        "activity_types": ["knowledge_sharing", "networking"],
                        "languages": languages, "modes": ["physical"],
                        "availability": [{"start": start.isoformat(),
                                          "end": (start + timedelta(days=60)).isoformat()}],
                        "target_countries": [],
                        **({"host_capacity": 2} if "host" in roles else {})},
    }, token=token)
    if status == "draft":
        return
    registration_id = draft["id"]
    registration.call("check_cv_upload", registration_id, token=token)
    store = _store(registration)
    stored = store.put(f"cv/{registration_id}", cv_pdf(name, org_name), "application/pdf")
    registration.call("attach_cv", registration_id, stored.key, f"cv-{first.lower()}.pdf",
                      token=token)
    registration.call("submit_registration", registration_id, token=token)
    if status in DECISIONS:
        assessor = _sign_in(registration, contact_email(partnership["code"]))
        registration.call("assess_registration", registration_id, {
            "decision": DECISIONS[status],
            **({"comment": "Please say which companies of your cluster would travel."}
               if status == "changes_requested" else {})}, token=assessor)


def _sign_in(registration: Any, email: str) -> str:
    answer = registration.call("create_token", {"email": email, "password": DEMO_PASSWORD})
    return answer["access_token"]


def _store(registration: Any) -> Any:
    return next(dep.store for dep in registration.container.dependencies if hasattr(dep, "store"))


def cv_pdf(name: str, organisation: str) -> bytes:
    """A one-page CV, a real PDF (the service checks what it is)."""
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(72, 770, f"{name} - curriculum vitae")
    canvas.drawString(72, 750, f"Cluster manager at {organisation}")
    canvas.save()
    return buffer.getvalue()


def _logins(partnerships: list[dict[str, Any]]) -> list[Login]:
    logins = [Login("admin", ADMIN_EMAIL, "-"), Login("support_agent", f"support@{DOMAIN}", "-")]
    logins += [Login("partnership_contact", contact_email(p["code"]), p["code"])
               for p in partnerships]
    by_sector: dict[str, str] = {}
    for partnership in partnerships:
        for sector in partnership["sectors"]:
            by_sector.setdefault(sector, partnership["code"])
    logins += [Login("participant", participant_email(index, row[0]),
                     by_sector.get(row[8][0], partnerships[0]["code"]), row[10])
               for index, row in enumerate(PARTICIPANTS)]
    return logins


def login_table(logins: list[Login]) -> Iterator[str]:
    """The demo logins as a table for the terminal (every password: DEMO_PASSWORD)."""
    rows = [("role", "email", "partnership", "registration"),
            *((login.role, login.email, login.partnership, login.status) for login in logins)]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    yield ""
    yield f"Demo logins (password for all: {DEMO_PASSWORD})"
    for number, row in enumerate(rows):
        yield "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        if number == 0:
            yield "  " + "  ".join("-" * width for width in widths)
