"""RPC from the gateway (or any caller) with a deadline.

nameko's RpcProxy waits for a reply forever; a gateway worker must not. `Rpc` makes the
same call with nameko's reply listener, gives up after RPC_TIMEOUT_SECONDS (504), and
carries the caller's token in the context data, which nameko puts in the message headers.
"""

from __future__ import annotations

from typing import Any

import eventlet
from nameko.exceptions import UnknownService
from nameko.extensions import DependencyProvider
from nameko.rpc import MethodProxy, ReplyListener

from common.errors import GatewayTimeout, ServiceUnavailable


class RpcClient:
    def __init__(self, worker_ctx: Any, listener: ReplyListener, timeout: float) -> None:
        self.worker_ctx = worker_ctx
        self.listener = listener
        self.timeout = timeout

    def call(self, service: str, method: str, *args: Any, auth_token: str | None = None,
             timeout: float | None = None, **kwargs: Any) -> Any:
        data = self.worker_ctx.data
        if auth_token:
            data["auth_token"] = auth_token
        else:
            data.pop("auth_token", None)
        proxy = MethodProxy(self.worker_ctx, service, method, self.listener)
        try:
            reply = proxy.call_async(*args, **kwargs)
        except UnknownService as exc:
            raise ServiceUnavailable(f"The {service} service is not running.") from exc
        body = None
        with eventlet.Timeout(timeout or self.timeout, False):
            body = reply.reply_event.wait()
        if body is None:
            self._forget(reply.reply_event)
            raise GatewayTimeout(f"The {service} service did not answer in time.")
        reply.resp_body = body
        return reply.result()

    def _forget(self, reply_event: Any) -> None:
        pending = self.listener._reply_events
        for correlation_id, event in list(pending.items()):
            if event is reply_event:
                pending.pop(correlation_id, None)


class Rpc(DependencyProvider):
    rpc_reply_listener = ReplyListener()

    def setup(self) -> None:
        self.timeout = float(self.container.config.get("RPC_TIMEOUT_SECONDS", 10.0))

    def get_dependency(self, worker_ctx: Any) -> RpcClient:
        return RpcClient(worker_ctx, self.rpc_reply_listener, self.timeout)
