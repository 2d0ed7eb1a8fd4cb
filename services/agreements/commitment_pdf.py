"""The commitment to quality as a PDF (reportlab).

Rendering is deterministic: the same exchange content and version give the same bytes
(reportlab's invariant mode fixes the creation date and document id), so the document's
SHA-256 identifies what the parties agreed. It is CPU work: callers run it off the event loop.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from common import reference

SIGNATORIES = (
    ("vo", "Visiting organisation (VO)"),
    ("ho", "Host organisation (HO)"),
    ("vop", "Partnership of the visiting organisation (VOP)"),
    ("hop", "Partnership of the host organisation (HOP)"),
)


def _text(value: Any) -> str:
    return escape(str(value)) if value not in (None, "") else "—"


def _labels(codes: list[str], table: dict[str, str]) -> str:
    return ", ".join(table.get(code, code) for code in codes or []) or "—"


def render_commitment(document: dict[str, Any]) -> bytes:
    """`document`: reference, version, parties {vo, ho, vop, hop: {name, country, ...}} and the
    plan (mode, dates, travel days, objectives, activity types, action plan, outcomes,
    responsibilities, languages)."""
    tax = reference.taxonomy()
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=body, fontSize=8, textColor=colors.grey)
    heading = ParagraphStyle("h2", parent=styles["Heading2"], fontSize=12, spaceBefore=8)
    plan = document["plan"]
    parties = document["parties"]

    story: list[Any] = [
        Paragraph("ClusterXchange — Commitment to quality", styles["Title"]),
        Paragraph(f"Exchange {_text(document['reference'])} · document version "
                  f"{_text(document['version'])}", body),
        Spacer(1, 4 * mm),
        Paragraph("Parties", heading),
    ]
    rows = [[Paragraph(label, body), Paragraph(
        f"{_text(parties.get(key, {}).get('name'))} ({_text(parties.get(key, {}).get('country'))})",
        body)] for key, label in SIGNATORIES]
    story.append(_table(rows, (70 * mm, 100 * mm)))

    story += [Paragraph("The exchange", heading), _table([
        [Paragraph("Mode", body), Paragraph(_text(plan.get("mode")), body)],
        [Paragraph("Stay", body), Paragraph(
            f"{_text(plan.get('start_date'))} to {_text(plan.get('end_date'))} "
            f"(travel days: {int(plan.get('travel_days_before') or 0)} before, "
            f"{int(plan.get('travel_days_after') or 0)} after)", body)],
        [Paragraph("Working days", body), Paragraph(_text(document.get("working_days")), body)],
        [Paragraph("Objectives", body), Paragraph(
            escape(_labels(plan.get("objectives"), tax["objectives"])), body)],
        [Paragraph("Activity types", body), Paragraph(
            escape(_labels(plan.get("activity_types"), tax["activity_types"])), body)],
        [Paragraph("Working languages", body), Paragraph(
            escape(", ".join(plan.get("languages") or []) or "—"), body)],
    ], (45 * mm, 125 * mm))]

    story.append(Paragraph("Action plan", heading))
    items = [[Paragraph("<b>Date</b>", body), Paragraph("<b>Activity</b>", body)]]
    for item in plan.get("action_plan") or []:
        text = f"<b>{_text(item.get('title'))}</b>"
        if item.get("description"):
            text += f"<br/>{_text(item.get('description'))}"
        items.append([Paragraph(_text(item.get("date")), body), Paragraph(text, body)])
    story.append(_table(items, (30 * mm, 140 * mm)))

    responsibilities = plan.get("responsibilities") or {}
    story += [
        Paragraph("Expected outcomes", heading),
        Paragraph(_text(plan.get("expected_outcomes")), body),
        Paragraph("Responsibilities", heading),
        Paragraph(f"<b>Visiting organisation:</b> {_text(responsibilities.get('visitor'))}", body),
        Paragraph(f"<b>Host organisation:</b> {_text(responsibilities.get('host'))}", body),
        Paragraph("Commitment", heading),
        Paragraph("The parties commit to carry out the exchange as described above. The exchange "
                  "is a cooperation between organisations; it is not an internship, a traineeship "
                  "or a work placement.", body),
        Spacer(1, 3 * mm),
        Paragraph("Each party signs this exact document in the ClusterXchange platform, which "
                  "records who signed, when, and the SHA-256 of the document, and seals each "
                  "signature into the file.", small),
    ]

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, invariant=True, leftMargin=20 * mm,
                            rightMargin=20 * mm, topMargin=18 * mm, bottomMargin=18 * mm,
                            title=f"Commitment to quality {document['reference']}",
                            author="ClusterXchange", subject=f"version {document['version']}")
    doc.build(story)
    return buffer.getvalue()


def _table(rows: list[list[Any]], widths: tuple[float, ...]) -> Table:
    table = Table(rows, colWidths=widths)
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.lightgrey),
        ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
    ]))
    return table
