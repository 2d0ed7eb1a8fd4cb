"""Dashboards: a contact point's budget (`/contact-point/budget`; administrators choose the
partnership) and the programme's figures for administrators (`/admin/dashboard`).

The figures come from the statistics RPCs, the same the JSON API serves
(`/api/v1/statistics/…`, `/api/v1/budgets/{id}/history`); each service checks who may see
them. A chart is drawn on the server (gateway.web.charts) and its figures are shown again as
a table beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from markupsafe import Markup
from werkzeug.wrappers import Response

from common import reference
from common.errors import AppError, NotAllowed
from common.statistics import UNKNOWN
from gateway.web import charts
from gateway.web.i18n import N_, translations
from gateway.web.labels import status_text
from gateway.web.pages import WebRoutes, page
from gateway.web.render import euros
from gateway.web.session import WebRequest

MONEY_SERIES = (("budget_cents", N_("Budget")), ("reserved_cents", N_("Reserved")),
                ("paid_cents", N_("Paid")), ("available_cents", N_("Available")))


@dataclass(frozen=True)
class Chart:
    """A chart and the same figures as a table: headers, then one row per label."""

    id: str
    svg: Markup
    caption: str
    headers: Sequence[str]
    rows: Sequence[tuple[str, Sequence[str]]]


def _roles(web: WebRequest) -> set[str]:
    return set((web.account or {}).get("roles") or [])


def breakdown(chart_id: str, title: str, description: str, items: Sequence[dict[str, Any]],
              name: Callable[[str], str], gettext: Callable[[str], str],
              count_header: str, empty_text: str) -> Chart:
    """A bar chart of `[{"key", "count"}]`, each key in words."""
    rows = [(gettext("Unknown") if item["key"] == UNKNOWN else name(item["key"]), item["count"])
            for item in items]
    svg = charts.bar_chart(chart_id, title, description, [(label, [count]) for label, count in rows],
                           empty_text=empty_text)
    return Chart(chart_id, svg, title, (count_header,), [(label, [str(count)]) for label, count in rows])


def state_names(gettext: Callable[[str], str]) -> Callable[[str], str]:
    """A state's words in the page's language (the code's own words for one unknown here)."""
    return lambda state: gettext(status_text(state))


class DashboardPages(WebRoutes):
    @page("GET", "/contact-point/budget")
    def page_cp_budget(self, web: WebRequest) -> Response:
        roles = _roles(web)
        gettext = translations(web.locale).gettext
        partnerships = self._partnerships(web)
        if "admin" in roles:
            wanted = web.request.args.get("partnership_id") or ""
            known = {p["id"] for p in partnerships}
            partnership_id = wanted if wanted in known else (partnerships[0]["id"] if partnerships else "")
        elif "partnership_contact" in roles and web.account.get("partnership_id"):
            partnership_id = web.account["partnership_id"]
        else:
            raise NotAllowed(N_("Only contact points and administrators see budgets."))
        names = {p["id"]: p["name"] for p in partnerships}
        try:
            budget = self._web(web, "payments", "get_budget", partnership_id)
        except AppError as exc:
            if exc.status != 404:
                raise
            budget = None
        history = self._web(web, "payments", "budget_history", partnership_id, {})
        exchanges = self._web(web, "agreements", "exchange_statistics",
                              {"partnership_id": partnership_id})
        return self._page(web, "cp_budget.html", title=N_("Budget"), section="cp-budget",
                          partnership_id=partnership_id, partnership_name=names.get(partnership_id, ""),
                          partnerships=partnerships if "admin" in roles else [],
                          budget=budget, history=history,
                          budget_chart=budget_chart(history, gettext),
                          month_chart=months_chart(exchanges, gettext),
                          state_chart=breakdown("exchanges-by-state", gettext("Exchanges by state"),
                                                gettext("How many of the partnership's exchanges "
                                                        "are in each state."),
                                                exchanges["by_state"], state_names(gettext), gettext,
                                                gettext("Exchanges"), gettext("No exchange yet.")),
                          exchanges=exchanges)

    @page("GET", "/admin/dashboard")
    def page_admin_dashboard(self, web: WebRequest) -> Response:
        if "admin" not in _roles(web):
            raise NotAllowed(N_("The programme dashboard is for administrators."))
        gettext = translations(web.locale).gettext
        names = {p["id"]: p["name"] for p in self._partnerships(web)}
        registrations = self._web(web, "registration", "registration_statistics", {})
        exchanges = self._web(web, "agreements", "exchange_statistics", {})
        payments = self._web(web, "payments", "payment_statistics", {})
        count = gettext("Registrations")
        none = gettext("No registration yet.")

        def country(code: str) -> str:
            return reference.label("countries", code)

        def partnership(pid: str) -> str:
            return names.get(pid, pid)

        registration_charts = [
            breakdown("registrations-by-status", gettext("Registrations by status"),
                      gettext("Every registration, drafts included, by its status."),
                      registrations["by_status"], state_names(gettext), gettext, count, none),
            breakdown("registrations-by-country", gettext("Registrations by country"),
                      gettext("Submitted registrations by the organisation's country."),
                      registrations["by_country"], country, gettext, count, none),
            breakdown("registrations-by-sector", gettext("Registrations by sector"),
                      gettext("Submitted registrations, counted once in each sector they prefer."),
                      registrations["by_sector"], lambda code: gettext(reference.label("sectors", code)),
                      gettext, count, none),
            breakdown("registrations-by-partnership", gettext("Registrations by partnership"),
                      gettext("Submitted registrations by their partnership."),
                      registrations["by_partnership"], partnership, gettext, count, none),
        ]
        count, none = gettext("Exchanges"), gettext("No exchange yet.")
        exchange_charts = [
            breakdown("exchanges-by-state", gettext("Exchanges by state"),
                      gettext("Every exchange by its state."), exchanges["by_state"], state_names(gettext),
                      gettext, count, none),
            breakdown("exchanges-by-host-country", gettext("Exchanges by host country"),
                      gettext("Every exchange by the host organisation's country."),
                      exchanges["by_host_country"], country, gettext, count, none),
            breakdown("exchanges-by-partnership", gettext("Exchanges by partnership"),
                      gettext("Every exchange by the visitor's partnership, which it counts for."),
                      exchanges["by_partnership"], partnership, gettext, count, none),
            months_chart(exchanges, gettext),
        ]
        payment_charts = [
            money_chart("payments-by-partnership", gettext("Committed and paid by partnership"),
                        [(partnership(row["partnership_id"]), row["reserved_cents"], row["paid_cents"])
                         for row in payments["by_partnership"]], gettext),
            money_chart("payments-by-host-country", gettext("Committed and paid by host country"),
                        [(gettext("Unknown") if row["host_country"] == UNKNOWN
                          else country(row["host_country"]), row["committed_cents"], row["paid_cents"])
                         for row in exchanges["lump_sums_by_host_country"]], gettext),
        ]
        return self._page(web, "admin_dashboard.html", title=N_("Programme dashboard"),
                          section="admin-dashboard", registrations=registrations,
                          exchanges=exchanges, payments=payments,
                          registration_charts=registration_charts, exchange_charts=exchange_charts,
                          payment_charts=payment_charts)


def budget_chart(history: dict[str, Any], gettext: Callable[[str], str]) -> Chart:
    points = history["points"]
    series = [charts.Series(gettext(name), [(date.fromisoformat(p["date"]), p[key]) for p in points])
              for key, name in MONEY_SERIES]
    title = gettext("Budget, reserved, paid and available over time")
    description = gettext("The partnership's budget and how much of it is reserved, paid and "
                          "still available, from %(start)s to %(end)s.") % {
        "start": history["from"], "end": history["to"]}
    svg = charts.line_chart("budget-history", title, description, series, charts.compact_euros,
                            empty_text=gettext("No movement yet."))
    return Chart("budget-history", svg, title, [gettext(name) for _, name in MONEY_SERIES],
                 [(p["date"], [euros(p[key]) for key, _ in MONEY_SERIES]) for p in points])


def months_chart(exchanges: dict[str, Any], gettext: Callable[[str], str]) -> Chart:
    months = list(exchanges["by_month"])
    rows = [(gettext("No start date yet") if m["month"] == UNKNOWN else m["month"], m["count"])
            for m in months]
    title = gettext("Exchanges per month of start")
    svg = charts.bar_chart("exchanges-by-month", title,
                           gettext("How many exchanges start in each month, whatever their state."),
                           [(label, [count]) for label, count in rows],
                           empty_text=gettext("No exchange yet."))
    table = [(label, [str(count), ", ".join(f"{state_names(gettext)(state)}: {n}"
                                            for state, n in sorted(m["states"].items()))])
             for (label, count), m in zip(rows, months, strict=True)]
    return Chart("exchanges-by-month", svg, title, (gettext("Exchanges"), gettext("By state")), table)


def money_chart(chart_id: str, title: str, rows: Sequence[tuple[str, int, int]],
                gettext: Callable[[str], str]) -> Chart:
    names = (gettext("Committed"), gettext("Paid"))
    svg = charts.bar_chart(chart_id, title,
                           gettext("Lump sums committed by signed financial agreements and not "
                                   "yet paid, and lump sums paid, in euros."),
                           [(label, [committed, paid]) for label, committed, paid in rows],
                           names=names, fmt=charts.compact_euros, empty_text=gettext("No money moved yet."))
    return Chart(chart_id, svg, title, names,
                 [(label, [euros(committed), euros(paid)]) for label, committed, paid in rows])
