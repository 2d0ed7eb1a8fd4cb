"""The ceiling: a bare nameko @http endpoint that makes one RPC to an echo service, through
common.rpc exactly as the gateway does (transient messages, no confirms, a deadline), with
no auth, validation or database.

And the ceiling plus GET's database read: the same endpoint asking `echo_read`, which reads
one registration with registration's own prepared read (`repository.read_registration`) and
returns its row as JSON values; no token, visibility rule or schema. It is a service of its
own so that the plain echo keeps no database dependency to set up and tear down per call.

And the ceiling plus POST's database write: `echo_read.create` commits a draft with
registration's own statement (`repository.create_draft`, one round trip in autocommit, as
the service does without an Idempotency-Key) for the account the bearer token names; the
body travels as its text and is validated once per distinct text, not per call, and no
token is verified."""

import json
from functools import lru_cache

from nameko.web.handlers import http
from werkzeug.wrappers import Response

from common.auth import decode_segment
from common.db import Database
from common.entrypoints import rpc
from common.events import jsonable
from common.rpc import Rpc
from common.schemas import load
from services.registration import repository
from services.registration.schemas import CreateRegistrationSchema
from services.registration.service import draft_values


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

    @rpc
    def create(self, account_id, body):
        data = _draft(body)
        reg, org = repository.create_draft(self.db.autocommit, account_id, data["organisation"],
                                           draft_values(data))
        return jsonable(repository.registration_dict(reg, org))


@lru_cache(maxsize=4)
def _draft(body):
    return load(CreateRegistrationSchema(), json.loads(body))


def _token_subject(request):
    """The account a bearer token names, read without verifying it (a baseline, not a check)."""
    return decode_segment(request.headers["Authorization"].split(".")[1])["sub"]


class BareHttp:
    name = "bare_http"
    rpc = Rpc()

    @http("GET", "/echo/<string:value>")
    def get(self, request, value):
        return self.rpc.call("echo", "echo", value)

    @http("GET", "/read/<string:registration_id>")
    def read(self, request, registration_id):
        return json.dumps(self.rpc.call("echo_read", "read", registration_id))

    @http("POST", "/write")
    def write(self, request):
        created = self.rpc.call("echo_read", "create", _token_subject(request),
                                request.get_data(as_text=True))
        return Response(json.dumps(created), status=201, mimetype="application/json")
