"""The ceiling: a bare nameko @http endpoint that makes one RPC to an echo service, with
nameko's stock RpcProxy and no auth, validation or database."""

from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http


class Echo:
    name = "echo"

    @rpc
    def echo(self, value):
        return value


class BareHttp:
    name = "bare_http"
    echo = RpcProxy("echo")

    @http("GET", "/echo/<string:value>")
    def get(self, request, value):
        return self.echo.echo(value)
