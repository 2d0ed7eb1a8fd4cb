"""Front-end files, served by the gateway itself (never from a CDN), gzipped once in memory.

The Europa Component Library and htmx come from npm (`package.json`, `npm ci`); the web
application's own CSS and JS live in gateway/web/static.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

from werkzeug.wrappers import Request, Response

from common.config import ROOT
from common.errors import NotFound
from gateway.http import Api
from gateway.routes.base import Routes

OWN = Path(__file__).resolve().parent / "static"
# The public name of each file and where npm put it (relative to the assets directory).
PACKAGED = {
    "ecl/ecl-ec.css": "@ecl/preset-ec/dist/styles/ecl-ec.css",
    "ecl/icons.svg": "@ecl/preset-ec/dist/images/icons/sprites/icons.svg",
    "htmx/htmx.min.js": "htmx.org/dist/htmx.min.js",
}
TYPES = {"css": "text/css; charset=utf-8", "js": "application/javascript; charset=utf-8",
         "svg": "image/svg+xml", "png": "image/png"}


@cache
def asset(name: str, assets_dir: str) -> tuple[bytes, bytes, str]:
    """(raw, gzipped, etag) of a public asset name; NotFound for anything else."""
    if name in PACKAGED:
        path = Path(assets_dir) / PACKAGED[name]
    elif "/" not in name and (OWN / name).is_file():
        path = OWN / name
    else:
        raise NotFound("No such file.")
    if not path.is_file():
        raise NotFound(f"{name} is not installed: run `make web-assets` (npm ci).")
    raw = path.read_bytes()
    return raw, gzip.compress(raw, 9, mtime=0), hashlib.sha256(raw).hexdigest()[:16]


# Where npm put the packages: the gateway's WEB.assets_dir, set when it serves a page.
ASSETS_DIR = [str(ROOT / "node_modules")]


def static_url(name: str) -> str:
    """A template's link to an asset, with its hash so browsers may cache it for good."""
    try:
        return f"/static/{name}?v={asset(name, ASSETS_DIR[0])[2]}"
    except NotFound:
        return f"/static/{name}"


class AssetRoutes(Routes):
    @Api.decorator("GET", "/static/<path:name>")
    def page_asset(self, request: Request, name: str) -> Response:
        raw, zipped, etag = asset(name, self.config["WEB"]["assets_dir"])
        headers = {"ETag": f'"{etag}"', "Vary": "Accept-Encoding",
                   "Cache-Control": "public, max-age=31536000, immutable"
                   if request.args.get("v") == etag else "public, max-age=300",
                   "X-Content-Type-Options": "nosniff"}
        if request.if_none_match.contains(etag):
            return Response(status=304, headers=headers)
        body = raw
        if "gzip" in request.headers.get("Accept-Encoding", "") and len(zipped) < len(raw):
            body, headers["Content-Encoding"] = zipped, "gzip"
        return Response(body, mimetype=TYPES[name.rsplit(".", 1)[-1]], headers=headers)
