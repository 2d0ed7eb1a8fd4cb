"""The ceiling: a bare nameko @http endpoint that makes one RPC to an echo service, through
common.rpc exactly as the gateway does (transient messages, no confirms, a deadline), with
no auth, validation or database."""

from nameko.web.handlers import http

from common.entrypoints import rpc
from common.rpc import Rpc


class Echo:
    name = "echo"

    @rpc
    def echo(self, value):
        return value


class BareHttp:
    name = "bare_http"
    rpc = Rpc()

    @http("GET", "/echo/<string:value>")
    def get(self, request, value):
        return self.rpc.call("echo", "echo", value)
