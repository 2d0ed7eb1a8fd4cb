"""Statistics for the dashboards: registrations, exchanges and payments counted by the
service that owns them, and a partnership's budget over time. Administrators see the
programme (or one partnership with `?partnership_id=`), a contact point its partnership."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from common.schemas import StatisticsQuerySchema
from gateway.http import api, json_response
from gateway.requests import query_args
from gateway.routes.base import V1, Routes
from services.agreements.schemas import ExchangeStatisticsSchema
from services.payments import schemas as pay
from services.registration.schemas import RegistrationStatisticsSchema

ERRORS = (401, 403, 422)


class StatisticsRoutes(Routes):
    @api("GET", f"{V1}/statistics/registrations", "Registrations by status, and the submitted "
         "ones by country, sector and partnership", tags=["statistics"],
         query=StatisticsQuerySchema, response=RegistrationStatisticsSchema, errors=ERRORS)
    def registration_statistics(self, request: Request) -> Response:
        return json_response(self._call(request, "registration", "registration_statistics",
                                        query_args(request)))

    @api("GET", f"{V1}/statistics/exchanges", "Exchanges by state, host country, visitor's "
         "partnership and month of start; lump sums committed and paid by host country",
         tags=["statistics"], query=StatisticsQuerySchema, response=ExchangeStatisticsSchema,
         errors=ERRORS)
    def exchange_statistics(self, request: Request) -> Response:
        return json_response(self._call(request, "agreements", "exchange_statistics",
                                        query_args(request)))

    @api("GET", f"{V1}/statistics/payments", "Budget, committed (reserved), paid and available "
         "amounts by partnership, with the programme's totals", tags=["statistics"],
         query=StatisticsQuerySchema, response=pay.PaymentStatisticsSchema, errors=ERRORS)
    def payment_statistics(self, request: Request) -> Response:
        return json_response(self._call(request, "payments", "payment_statistics",
                                        query_args(request)))

    @api("GET", f"{V1}/budgets/<string:partnership_id>/history", "A partnership's budget, "
         "reserved, paid and available over time, from its ledger", tags=["budgets"],
         query=pay.BudgetHistoryQuerySchema, response=pay.BudgetHistorySchema,
         errors=(401, 403, 404, 422))
    def budget_history(self, request: Request, partnership_id: str) -> Response:
        return json_response(self._call(request, "payments", "budget_history", partnership_id,
                                        query_args(request)))
