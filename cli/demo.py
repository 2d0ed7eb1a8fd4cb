"""A realistic demo data set: contact points for every partnership and participants in
several countries at every stage of registration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.db import utcnow
from common.events import jsonable, make_event
from common.outbox import record_event
from services.registration import domain
from services.registration.models import Account, Organisation, OutboxEvent, Partnership, Registration
from services.registration.repository import create_account, new_reference, registration_dict

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed for the demo on purpose

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


def seed_demo(session: Session) -> Iterator[str]:
    if session.scalar(select(Account).where(Account.email == "admin@demo.clusterxchange.eu")):
        yield "demo data already present"
        return
    partnerships = {p.code: p for p in session.scalars(select(Partnership))}
    create_account(session, "admin@demo.clusterxchange.eu", DEMO_PASSWORD, "Programme Admin",
                   ["admin"])
    create_account(session, "support@demo.clusterxchange.eu", DEMO_PASSWORD, "Support Desk",
                   ["support_agent"])
    for code, partnership in partnerships.items():
        create_account(session, f"contact.{code.lower()}@demo.clusterxchange.eu", DEMO_PASSWORD,
                       f"{partnership.name} contact point", ["partnership_contact"],
                       partnership.id)
    yield f"demo accounts (password {DEMO_PASSWORD}): admin@, support@, " \
          "contact.<partnership code>@demo.clusterxchange.eu"

    by_sector = {}
    for partnership in partnerships.values():
        for sector in partnership.sectors:
            by_sector.setdefault(sector, partnership)
    today = date.today()
    for index, row in enumerate(PARTICIPANTS):
        (name, org_name, org_type, country, city, lat, lon, roles, sectors, languages,
         status) = row
        first, last = name.split(" ", 1)
        email = f"{first.lower()}.{index}@demo.clusterxchange.eu"
        account = create_account(session, email, DEMO_PASSWORD, name, ["participant"])
        partnership = by_sector.get(sectors[0]) or next(iter(partnerships.values()))
        needs_membership = org_type not in ("cluster_organisation", "business_network_organisation")
        org = Organisation(account_id=account.id, name=org_name, type=org_type, country=country,
                           city=city, latitude=lat, longitude=lon, employees=12 + index * 7,
                           cluster_member=needs_membership,
                           cluster_name=f"{city} Industry Cluster" if needs_membership else None,
                           website=f"https://example.org/{org_name.split()[0].lower()}",
                           description=f"{org_name} supports companies in {city}.")
        session.add(org)
        session.flush()
        start = today + timedelta(days=30 + 7 * index)
        reg = Registration(
            reference=new_reference(), status=status, account_id=account.id,
            organisation_id=org.id, partnership_id=partnership.id, roles=roles,
            motivation=f"We want to learn how other clusters in {', '.join(sectors)} grow "
                       "internationally and build lasting partnerships.",
            expertise=f"{org_name}: {', '.join(sectors)}; cluster management and "
                      "internationalisation.",
            representative={"first_name": first, "last_name": last, "email": email,
                            "position": "Cluster manager", "date_of_birth": "1985-04-12",
                            "nationality": country},
            preferences={"sectors": sectors, "objectives": ["learn", "explore_markets"],
                         "activity_types": ["knowledge_sharing", "networking"],
                         "languages": languages, "modes": ["physical"],
                         "availability": [{"start": start.isoformat(),
                                           "end": (start + timedelta(days=60)).isoformat()}],
                         "target_countries": [], "host_capacity": 2 if "host" in roles else None},
        )
        if status != "draft":
            reg.submitted_at = utcnow()
        if status in ("accepted", "changes_requested"):
            reg.assessment_decision = "accept" if status == "accepted" else "request_changes"
            reg.assessment_comment = None if status == "accepted" else "Please add a CV."
            reg.assessed_at = utcnow()
        session.add(reg)
        session.flush()
        if status in domain.DECISION_EVENTS:
            payload = domain.event_profile(jsonable(registration_dict(reg, org)))
            record_event(session, OutboxEvent, make_event(domain.DECISION_EVENTS[status], payload))
    yield f"{len(PARTICIPANTS)} demo participants (email <first name>.<n>@demo.clusterxchange.eu)"

