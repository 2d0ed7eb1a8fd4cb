"""A synthetic, seeded catalogue of registrations with realistic mixes, and planted ideal pairs."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta

from services.matching.engine import Profile

SEED = 20261125
START = date(2027, 1, 4)

# Population-based weights (millions); the country mix follows their square root.
POPULATION = {
    "DE": 84, "FR": 68, "IT": 59, "ES": 48, "PL": 37, "RO": 19, "NL": 18, "BE": 12, "CZ": 11,
    "GR": 10, "PT": 10, "SE": 10, "HU": 10, "AT": 9, "BG": 6.5, "DK": 6, "FI": 5.5, "SK": 5.4,
    "IE": 5, "HR": 3.9, "LT": 2.8, "SI": 2.1, "LV": 1.9, "EE": 1.3, "CY": 1, "LU": 0.6, "MT": 0.5,
    "AL": 2.8, "AM": 3, "BA": 3.2, "IS": 0.4, "XK": 1.8, "MD": 2.5, "ME": 0.6, "MK": 1.8, "RS": 6.7,
    "TR": 85, "UA": 38,
}
NATIONAL_LANGUAGES = {
    "DE": ["de"], "FR": ["fr"], "IT": ["it"], "ES": ["es", "ca", "eu", "gl"], "PL": ["pl"], "RO": ["ro"],
    "NL": ["nl"], "BE": ["nl", "fr", "de"], "CZ": ["cs"], "GR": ["el"], "PT": ["pt"], "SE": ["sv"],
    "HU": ["hu"], "AT": ["de"], "BG": ["bg"], "DK": ["da"], "FI": ["fi", "sv"], "SK": ["sk"],
    "IE": ["en", "ga"], "HR": ["hr"], "LT": ["lt"], "SI": ["sl"], "LV": ["lv"], "EE": ["et"],
    "CY": ["el", "tr"], "LU": ["lb", "fr", "de"], "MT": ["mt", "en"], "AL": ["sq"], "AM": ["hy"],
    "BA": ["bs"], "IS": ["is"], "XK": ["sq", "sr"], "MD": ["ro", "ru"], "ME": ["sr"], "MK": ["mk"],
    "RS": ["sr"], "TR": ["tr"], "UA": ["uk"],
}
SECOND_LANGUAGES = ["fr", "de", "es", "it", "ru"]
OBJECTIVES = ["learn", "explore_markets", "adopt_technologies", "interregional_collaboration"]
ACTIVITY_TYPES = ["capacity_building", "knowledge_sharing", "project_development", "market_research",
                  "networking"]
ORGANISATION_TYPES = {
    "cluster_organisation": 30, "business_network_organisation": 8, "technology_centre": 8,
    "research_institute": 6, "digital_innovation_hub": 6, "fab_lab": 2, "creative_hub": 2,
    "resource_efficiency_provider": 2, "incubator": 4, "accelerator": 3, "sme": 40,
    "large_company": 4, "public_authority": 3,
}
HOST_ONLY_TYPES = {"large_company", "public_authority"}

SECTOR_WORDS = {
    "aerospace_defence": "aircraft avionics satellite drone propulsion airframe composites defence radar "
                         "space launcher certification maintenance aeronautics fuselage turbine navigation "
                         "missile cockpit hangar orbital",
    "agri_food": "farming dairy crops harvest food processing organic livestock vineyard olive grain "
                 "fertiliser irrigation packaging bakery cheese fisheries aquaculture orchards seeds cereal",
    "construction": "building construction concrete timber insulation renovation architecture bim "
                    "prefabricated housing infrastructure cement masonry facade scaffolding retrofit "
                    "bridges tunnels roofing carpentry",
    "cultural_creative": "design film music gaming animation publishing museum heritage theatre fashion "
                         "advertising crafts festival gallery audiovisual storytelling illustration "
                         "photography broadcasting artists",
    "digital": "software cloud cybersecurity artificial intelligence data platforms blockchain robotics "
               "internet computing algorithms analytics apps startups digitalisation automation "
               "programming saas devops",
    "electronics": "semiconductors chips sensors microelectronics circuits photonics printed boards "
                   "embedded firmware components wafer lasers optics batteries displays antennas "
                   "soldering transistors",
    "energy_intensive": "steel chemicals glass ceramics paper aluminium refinery furnace cement plastics "
                        "metallurgy smelting foundry pulp fertilisers petrochemical alloys decarbonisation "
                        "hydrogen kilns",
    "renewable_energy": "solar wind photovoltaic turbines geothermal biomass biogas storage grid offshore "
                        "hydropower heatpumps microgrid inverters electrolysers prosumers renewables "
                        "efficiency insulation retrofit",
    "health": "medical hospital pharmaceutical biotech diagnostics clinical devices telemedicine "
              "patients vaccines genomics therapy wellbeing ageing nursing laboratory imaging implants "
              "dental rehabilitation",
    "mobility_transport_automotive": "automotive vehicles electric charging logistics railway shipping "
                                     "ports freight batteries mobility bicycles trucks suppliers "
                                     "aftermarket autonomous tyres drivetrain fleet maritime",
    "proximity_social_economy": "cooperatives social inclusion community volunteers nonprofit "
                                "neighbourhood welfare civil security integration microfinance "
                                "empowerment solidarity housing youth disability refugees crafts "
                                "localities",
    "retail": "shops ecommerce consumers omnichannel merchandising supermarket franchise loyalty "
              "marketplace checkout inventory wholesale boutiques storefront customers pricing "
              "fulfilment returns brands",
    "textiles": "textile fabrics yarn weaving knitting garments apparel fibres dyeing leather footwear "
                "sewing recycling circular spinning denim wool cotton nonwoven embroidery",
    "tourism": "tourism hotels hospitality travel destinations visitors gastronomy resorts cruise "
               "heritage hiking accommodation guides excursions wellness beaches festivals itineraries "
               "booking camping",
}
GENERIC_TEXT = (
    "cluster members companies regional innovation network partners cooperation international "
    "internationalisation exchange experience programme support services training skills workforce "
    "competitiveness growth strategy policy ecosystem value chain sustainable green transition "
    "digital transformation collaboration european projects funding research development market "
    "export visits matchmaking best practices expertise knowledge transfer technology adoption "
    "productivity quality standards competences management governance members representatives "
    "entrepreneurs universities laboratories pilot demonstration testing prototypes scaling "
    "investment finance procurement smart specialisation region industry manufacturing resilience "
    "circularity efficiency resources waste emissions climate learning mentoring coaching workshop "
    "seminar delegation hosting visiting staff team organisation association chamber federation "
    "opportunities challenges solutions tools methods capacities infrastructure facilities open "
    "community events conference brokerage partnership alliance consortium roadmap"
)
ORG_TEXT = "nord sud east west alpine baltic danube atlantic adriatic central valley coast metro urban"
GENERIC_WORDS = GENERIC_TEXT.split()
ORG_WORDS = ORG_TEXT.split()


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _some(rng: random.Random, items: list[str], low: int, high: int) -> frozenset[str]:
    return frozenset(rng.sample(items, rng.randint(low, high)))


class Generator:
    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.country_weights = {c: p ** 0.5 for c, p in POPULATION.items()}
        sectors = list(SECTOR_WORDS)
        # Each country is strong in a few ecosystems: four times as likely as the others.
        self.sector_weights = {
            country: {s: (4.0 if s in strong else 1.0) for s in sectors}
            for country in POPULATION
            for strong in [set(self.rng.sample(sectors, 3))]
        }
        self.vocabulary = {s: words.split() for s, words in SECTOR_WORDS.items()}
        self.counter = 0

    def _sectors(self, country: str) -> frozenset[str]:
        wanted = self.rng.choices((1, 2, 3), weights=(5, 3, 2))[0]
        chosen: set[str] = set()
        while len(chosen) < wanted:
            chosen.add(_weighted(self.rng, self.sector_weights[country]))
        return frozenset(chosen)

    def _languages(self, country: str) -> frozenset[str]:
        national = NATIONAL_LANGUAGES[country]
        chosen = {national[0] if self.rng.random() < 0.8 else self.rng.choice(national)}
        if self.rng.random() < 0.75:
            chosen.add("en")
        if self.rng.random() < 0.25:
            chosen.add(self.rng.choice(SECOND_LANGUAGES))
        return frozenset(chosen)

    def _availability(self) -> tuple[tuple[date, date], ...]:
        windows = []
        for _ in range(self.rng.choices((1, 2, 3), weights=(5, 3, 2))[0]):
            start = START + timedelta(days=self.rng.randrange(0, 330))
            windows.append((start, start + timedelta(days=self.rng.randint(7, 60))))
        return tuple(sorted(windows))

    def text(self, sectors: frozenset[str]) -> str:
        sector = self.rng.choice(sorted(sectors)).split("_")[0]
        name = f"{self.rng.choice(ORG_WORDS).title()} {sector.title()}"
        words = []
        for _ in range(self.rng.randint(30, 80)):
            if self.rng.random() < 0.5:
                words.append(self.rng.choice(self.vocabulary[self.rng.choice(sorted(sectors))]))
            else:
                words.append(self.rng.choice(GENERIC_WORDS))
        return f"{name} {' '.join(words)}."

    def _roles(self, org_type: str) -> frozenset[str]:
        if org_type in HOST_ONLY_TYPES:
            return frozenset({"host"})
        pick = self.rng.random()
        return frozenset({"visitor"} if pick < 0.35 else {"host"} if pick < 0.80 else {"visitor", "host"})

    def _modes(self) -> frozenset[str]:
        pick = self.rng.random()
        if pick < 0.55:
            return frozenset({"physical"})
        if pick < 0.65:
            return frozenset({"virtual"})
        return frozenset({"physical", "virtual"}) if pick < 0.9 else frozenset()

    def profile(self) -> Profile:
        self.counter += 1
        country = _weighted(self.rng, self.country_weights)
        org_type = _weighted(self.rng, ORGANISATION_TYPES)
        roles = self._roles(org_type)
        sectors = self._sectors(country)
        targets = frozenset() if self.rng.random() < 0.4 else frozenset(
            self.rng.sample([c for c in POPULATION if c != country], self.rng.randint(1, 3)))
        return Profile(
            registration_id=f"reg-{self.counter:07d}", version=1, roles=roles, country=country,
            organisation_type=org_type, sectors=sectors,
            objectives=_some(self.rng, OBJECTIVES, 1, 3),
            activity_types=_some(self.rng, ACTIVITY_TYPES, 1, 3),
            languages=self._languages(country), modes=self._modes(), target_countries=targets,
            availability=self._availability(),
            host_capacity=self.rng.randint(1, 3) if "host" in roles else 0,
            has_visited="visitor" in roles and self.rng.random() < 0.05,
            text=self.text(sectors),
            primary_sector=self.rng.choice(sorted(sectors)),
        )

    def changed(self, profile: Profile) -> Profile:
        """The same registration, edited: new version, other sectors and activities, rewritten text."""
        sectors = self._sectors(profile.country)
        return replace(profile, version=profile.version + 1, sectors=sectors,
                       primary_sector=self.rng.choice(sorted(sectors)),
                       activity_types=_some(self.rng, ACTIVITY_TYPES, 1, 3), text=self.text(sectors))

    def planted_pair(self) -> tuple[Profile, Profile]:
        """A visitor and its ideal host: same wishes, overlapping dates, each other's target country."""
        visitor = self.profile()
        while visitor.organisation_type in HOST_ONLY_TYPES:
            visitor = self.profile()
        host_country = _weighted(self.rng, {c: w for c, w in self.country_weights.items()
                                            if c != visitor.country})
        others = [c for c in POPULATION if c not in (visitor.country, host_country)]
        visitor_targets = {host_country, *self.rng.sample(others, self.rng.randint(0, 2))}
        visitor = replace(visitor, roles=frozenset({"visitor"}), has_visited=False, host_capacity=0,
                          target_countries=frozenset(visitor_targets))
        first_start, first_end = visitor.availability[0]
        self.counter += 1
        host = replace(
            visitor, registration_id=f"reg-{self.counter:07d}", roles=frozenset({"host"}),
            country=host_country, organisation_type=_weighted(self.rng, ORGANISATION_TYPES),
            target_countries=frozenset({visitor.country, *self.rng.sample(others, self.rng.randint(0, 2))}),
            availability=((first_start - timedelta(days=10), first_end + timedelta(days=30)),),
            host_capacity=2, text=self.text(visitor.sectors),
        )
        return visitor, host


def catalogue(size: int, seed: int = SEED) -> list[Profile]:
    generator = Generator(seed)
    return [generator.profile() for _ in range(size)]
