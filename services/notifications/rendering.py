"""Messages from jinja2 templates: one template per event (templates/<language>/events/),
with the recipient's role choosing the wording inside it, rendered twice through the
language's layouts: plain text (no escaping) and HTML (every value escaped).

A language without a template for an event falls back to English, per template; a new
language is a new directory with its layouts and whichever events are translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, Undefined

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


@cache
def _environment(html: bool, strict: bool) -> Environment:
    # The plain-text part is not HTML; the HTML environment escapes every value.
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=html,  # noqa: S701
                      undefined=StrictUndefined if strict else Undefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["euros"] = euros
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
        layout = _pick(env, language, f"layout.{fmt}.j2")
        # The language the message is really in (the fallback's, when it has no translation).
        used = template.name.split("/", 1)[0]
        values = {**context, "role": role, "language": used, "layout": layout}
        rendered[fmt] = (template, template.render(values), values)
    text_template, text, values = rendered["txt"]
    return Rendered(subject=_block(text_template, "subject", values),
                    summary=_block(text_template, "summary", values),
                    text=text, html=rendered["html"][1])
