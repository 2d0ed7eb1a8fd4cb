"""HTTP gateway: the public API under /api/v1, its OpenAPI document and docs, health, metrics,
and the web application under `/` (gateway/web).

The routes live in gateway/routes and gateway/web, one module per area; this class only
gathers them, so nameko runs them as one service.
"""

from __future__ import annotations

from gateway.routes.agreements import AgreementRoutes
from gateway.routes.matching import MatchingRoutes
from gateway.routes.ops import OpsRoutes
from gateway.routes.payments import PaymentRoutes
from gateway.routes.problems import ProblemRoutes
from gateway.routes.registration import RegistrationRoutes
from gateway.web.assets import AssetRoutes
from gateway.web.contact_point import ContactPointPages
from gateway.web.exchanges import ExchangePages
from gateway.web.participant import ParticipantPages
from gateway.web.public import PublicPages


class GatewayService(OpsRoutes, ProblemRoutes, RegistrationRoutes, MatchingRoutes,
                     AgreementRoutes, PaymentRoutes, AssetRoutes, PublicPages, ParticipantPages,
                     ExchangePages, ContactPointPages):
    name = "gateway"
