"""A browser's brand and version from its User-Agent header, for the support desk's form.

Only the common browsers are told apart; the order matters because most of them also say
"Chrome" or "Safari" (Edge and Opera say Chrome, Chrome says Safari).
"""

from __future__ import annotations

import re

_BROWSERS = (
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/([\d.]+)")),
    ("Opera", re.compile(r"(?:OPR|Opera)/([\d.]+)")),
    ("Samsung Internet", re.compile(r"SamsungBrowser/([\d.]+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/([\d.]+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/([\d.]+)")),
    ("Safari", re.compile(r"Version/([\d.]+).*Safari/")),
)


def browser_from_user_agent(user_agent: str | None) -> tuple[str | None, str | None]:
    """(brand, version), or (None, None) for an agent we do not recognise."""
    agent = (user_agent or "")[:500]
    for brand, pattern in _BROWSERS:
        found = pattern.search(agent)
        if found:
            return brand, found.group(1)[:40]
    return None, None
