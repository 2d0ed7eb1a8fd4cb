"""HTTP gateway: the public API under /api/v1, its OpenAPI document and docs, health, metrics,
and the web application under `/` (gateway/web).

The routes live in gateway/routes and gateway/web, one module per area; this class only
gathers them, so nameko runs them as one service.
"""

from __future__ import annotations

from gateway.routes.account_admin import AccountAdminRoutes
from gateway.routes.accounts import AccountRoutes
from gateway.routes.agreements import AgreementRoutes
from gateway.routes.matching import MatchingRoutes
from gateway.routes.notifications import NotificationRoutes
from gateway.routes.ops import OpsRoutes
from gateway.routes.payments import PaymentRoutes
from gateway.routes.problems import ProblemRoutes
from gateway.routes.registration import RegistrationRoutes
from gateway.routes.statistics import StatisticsRoutes
from gateway.routes.support import SupportRoutes
from gateway.routes.webhooks import WebhookRoutes
from gateway.web.account import AccountPages
from gateway.web.admin import AdminPages
from gateway.web.admin_accounts import AdminAccountPages
from gateway.web.admin_money import AdminMoneyPages
from gateway.web.assets import AssetRoutes
from gateway.web.contact_point import ContactPointPages
from gateway.web.dashboards import DashboardPages
from gateway.web.exchanges import ExchangePages
from gateway.web.inbox import InboxPages
from gateway.web.participant import ParticipantPages
from gateway.web.public import PublicPages
from gateway.web.support import SupportPages


class GatewayService(OpsRoutes, ProblemRoutes, RegistrationRoutes, AccountRoutes, AccountAdminRoutes,
                     MatchingRoutes, AgreementRoutes, PaymentRoutes,
                     NotificationRoutes, WebhookRoutes, SupportRoutes, StatisticsRoutes,
                     AssetRoutes, PublicPages, AccountPages, ParticipantPages, ExchangePages,
                     ContactPointPages, DashboardPages, InboxPages, SupportPages, AdminPages,
                     AdminAccountPages, AdminMoneyPages):
    name = "gateway"
