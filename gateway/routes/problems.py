"""The problem types' human pages: every problem's `type` (/problems/<slug>) resolves here."""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Request, Response

from common.errors import PROBLEMS_PATH, NotFound, problem_types
from gateway.http import api
from gateway.routes.base import Routes

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} ({status})</title></head>
<body><h1>{title}</h1><p>HTTP status {status}.</p><p>{explanation}</p>
<p>Problem responses (RFC 9457, <code>application/problem+json</code>) of type
<code>{type}</code> carry a <code>detail</code> about the request at hand and, for fields,
an <code>errors</code> object naming each one.</p></body></html>
"""


class ProblemRoutes(Routes):
    @api("GET", f"{PROBLEMS_PATH}/<string:slug>", "What a problem type means", auth=False,
         hidden=True, rpc=False)
    def problem_page(self, request: Request, slug: str) -> Response:
        error = problem_types().get(slug)
        if error is None:
            raise NotFound("No such problem type.")
        page = _PAGE.format(title=escape(error.title), status=error.status,
                            explanation=escape(error.explanation),
                            type=escape(f"{PROBLEMS_PATH}/{slug}"))
        return Response(page, mimetype="text/html",
                        headers={"Cache-Control": "public, max-age=86400"})
