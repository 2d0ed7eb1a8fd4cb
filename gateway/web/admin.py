"""The administrators' pages: their index at `/admin`, and the rule every admin page starts
with (administrators only; anyone else gets the "you may not do this" page).

ADMIN_PAGES is the one list of the administration's pages: the index renders it, and the
navigation's "Administration" entry leads to the index. A new admin page adds one line.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from common.errors import NotAllowed
from gateway.web.i18n import N_
from gateway.web.pages import WebRoutes, page
from gateway.web.session import WebRequest

# (path, label, what the page is for)
ADMIN_PAGES: list[tuple[str, str, str]] = [
    ("/admin/dashboard", N_("Programme dashboard"),
     N_("Registrations, exchanges and payments by country, sector and partnership.")),
    ("/admin/accounts", N_("Accounts and roles"),
     N_("Every account: invite staff, change roles, suspend or reactivate, and the audit "
        "trail of each change.")),
    ("/admin/lump-sums", N_("Lump sums"),
     N_("The lump-sum table per host country, its changes, and a new figure from a date on.")),
    ("/admin/budgets", N_("Partnership budgets"),
     N_("Each partnership's envelope, what is reserved, paid and available, and the bank "
        "account its payment runs are paid from.")),
]


def require_admin(web: WebRequest) -> None:
    """The services check every call again; this keeps other roles off pages built for
    administrators (a contact point would otherwise see a partial view of them)."""
    if "admin" not in ((web.account or {}).get("roles") or []):
        raise NotAllowed(N_("Only administrators use these pages."))


class AdminPages(WebRoutes):
    @page("GET", "/admin")
    def page_admin_index(self, web: WebRequest) -> Response:
        require_admin(web)
        return self._page(web, "admin_index.html", title=N_("Administration"), section="admin",
                          admin_pages=ADMIN_PAGES)
