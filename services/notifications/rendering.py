"""Messages from jinja2 templates: one template per event (templates/<language>/events/),
with the recipient's role choosing the wording inside it, rendered twice through the
language's layouts: plain text (no escaping) and HTML (every value escaped).

A language without a template for an event falls back to English, per template; a new
language is a new directory with its layouts and whichever events are translated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, Undefined, pass_context

TEMPLATES = Path(__file__).resolve().parent / "templates"
FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Rendered:
    subject: str
    summary: str  # the inbox entry's text
    text: str
    html: str


def euros(cents: Any) -> str:
    try:
        value = int(cents or 0)
    except (TypeError, ValueError):
        return "an amount"
    return f"€{value // 100:,}.{value % 100:02d}"


def _language(context: Any) -> str:
    return context.get("language") or FALLBACK_LANGUAGE


@pass_context
def euros_in_language(context: Any, cents: Any) -> str:
    """An amount as the message's language writes it (€1,100.00; 1 100,00 €)."""
    language = _language(context)
    if language == FALLBACK_LANGUAGE:
        return euros(cents)
    try:
        value = int(cents or 0)
    except (TypeError, ValueError):
        return "—"
    return format_currency(Decimal(value) / 100, "EUR", locale=language)


def _long_date(value: date, language: str, pattern: str = "long") -> str:
    """A date in words; French writes the first of the month "1er" (1er mars 2027)."""
    if language == FALLBACK_LANGUAGE:
        return format_date(value, pattern, locale="en_GB")
    text = format_date(value, pattern, locale=language)
    return re.sub(r"\b1 ", "1er ", text, count=1) if value.day == 1 and language == "fr" else text


@pass_context
def day(context: Any, value: Any) -> str:
    """An ISO date (or the date of an ISO moment) in the message's language: 1 March 2027."""
    if not value:
        return ""
    try:
        parsed = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return _long_date(parsed, _language(context))


@pass_context
def when(context: Any, value: Any) -> str:
    """An ISO moment, as stored (UTC), in the message's language: 1 March 2027, 10:00 UTC."""
    if not value:
        return ""
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day(context, parsed.date())}, {parsed:%H:%M} UTC"


@pass_context
def local_time(context: Any, value: Any) -> str:
    """An ISO moment in its own zone (a meeting in Brussels time), as it was given, with its
    weekday: Monday 7 December 2026, 10:00."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{_long_date(parsed.date(), _language(context), 'EEEE d MMMM y')}, {parsed:%H:%M}"


@cache
def _environment(html: bool, strict: bool) -> Environment:
    # The plain-text part is not HTML; the HTML environment escapes every value.
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=html,  # noqa: S701
                      undefined=StrictUndefined if strict else Undefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(euros=euros_in_language, day=day, when=when, local_time=local_time)
    return env


def _pick(env: Environment, language: str, name: str) -> Template:
    return env.select_template([f"{lang}/{name}" for lang in dict.fromkeys((language, FALLBACK_LANGUAGE))])


def _block(template: Template, name: str, context: dict[str, Any]) -> str:
    return " ".join("".join(template.blocks[name](template.new_context(context))).split())


def has_template(event_type: str) -> bool:
    return (TEMPLATES / FALLBACK_LANGUAGE / "events" / f"{event_type}.j2").exists()


def render(event_type: str, role: str, language: str, context: dict[str, Any],
           strict: bool = False) -> Rendered:
    """The message about `event_type` for someone in `role`. `context`: the event's fields,
    the names around it, `name`, `action_url`, `essential`, `kind`. `strict` (tests) makes
    any variable a template uses but the context lacks an error."""
    rendered = {}
    for fmt, html in (("txt", False), ("html", True)):
        env = _environment(html, strict)
        template = _pick(env, language, f"events/{event_type}.j2")
        # The language the message is really in (the fallback's, when it has no translation);
        # its layout is in the same language, so that a message never mixes two.
        used = template.name.split("/", 1)[0]
        layout = _pick(env, used, f"layout.{fmt}.j2")
        values = {**context, "role": role, "language": used, "layout": layout}
        rendered[fmt] = (template, template.render(values), values)
    text_template, text, values = rendered["txt"]
    return Rendered(subject=_block(text_template, "subject", values),
                    summary=_block(text_template, "summary", values),
                    text=text, html=rendered["html"][1])
