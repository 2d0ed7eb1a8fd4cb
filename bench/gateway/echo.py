"""The ceiling: a bare nameko @http endpoint that makes one RPC to an echo service, through
common.rpc exactly as the gateway does (transient messages, no confirms, a deadline), with
no auth, validation or database.

And the ceiling plus GET's database read: the same endpoint asking `echo_read`, which reads
one registration with registration's own prepared read (`repository.read_registration`) and
returns its row as JSON values; no token, visibility rule or schema. It is a service of its
own so that the plain echo keeps no database dependency to set up and tear down per call."""

import json

from nameko.web.handlers import http

from common.db import Database
from common.entrypoints import rpc
from common.events import jsonable
from common.rpc import Rpc
from services.registration import repository


class Echo:
    name = "echo"

    @rpc
    def echo(self, value):
        return value


class EchoRead:
    name = "echo_read"
    db = Database("registration")

    @rpc
    def read(self, registration_id):
        return jsonable(repository.read_registration(self.db.reader, registration_id))


class BareHttp:
    name = "bare_http"
    rpc = Rpc()

    @http("GET", "/echo/<string:value>")
    def get(self, request, value):
        return self.rpc.call("echo", "echo", value)

    @http("GET", "/read/<string:registration_id>")
    def read(self, request, registration_id):
        return json.dumps(self.rpc.call("echo_read", "read", registration_id))
