"""HTTP gateway: the public API under /api/v1, its OpenAPI document and docs, health, metrics.

The routes live in gateway/routes, one module per area; this class only gathers them, so
nameko runs them as one service.
"""

from __future__ import annotations

from gateway.routes.agreements import AgreementRoutes
from gateway.routes.matching import MatchingRoutes
from gateway.routes.notifications import NotificationRoutes
from gateway.routes.ops import OpsRoutes
from gateway.routes.payments import PaymentRoutes
from gateway.routes.problems import ProblemRoutes
from gateway.routes.registration import RegistrationRoutes
from gateway.routes.support import SupportRoutes


class GatewayService(OpsRoutes, ProblemRoutes, RegistrationRoutes, MatchingRoutes,
                     AgreementRoutes, PaymentRoutes, NotificationRoutes, SupportRoutes):
    name = "gateway"
