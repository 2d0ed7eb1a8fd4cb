"""A service's RPC methods called inside this process, exactly as its workers run them.

The CLI (seeding the demo set, `cxc create-account`) goes through the same service functions
as the API instead of writing a service's tables itself: same validation, same rules, same
events in the same outbox. The service's dependencies (database, keys, storage, outbox) are
set up from the configuration; no entrypoint consumes anything and no relay runs: the events
recorded wait in the outbox until the service itself starts and publishes them.
"""

from __future__ import annotations

import sys
from typing import Any

from nameko.containers import ServiceContainer, WorkerContext


class LocalService:
    def __init__(self, service_cls: type, config: dict[str, Any]) -> None:
        self.container = ServiceContainer(service_cls, config)
        for dependency in self.container.dependencies:
            dependency.setup()
        for dependency in self.container.dependencies:
            ensure_ready = getattr(getattr(dependency, "store", None), "ensure_ready", None)
            if ensure_ready is not None:  # the document store's bucket
                ensure_ready()

    def call(self, method: str, *args: Any, token: str | None = None, **kwargs: Any) -> Any:
        """`method(*args, **kwargs)` as a worker would run it for a caller with `token`."""
        container = self.container
        entrypoint = next(entry for entry in container.entrypoints if entry.method_name == method)
        service = container.service_cls()
        context = WorkerContext(container, service, entrypoint, args=args, kwargs=kwargs,
                                data={"auth_token": token} if token else {})
        container._inject_dependencies(context)
        container._worker_setup(context)
        result, exc_info = None, None
        try:
            result = getattr(service, method)(*args, **kwargs)
            return result
        except Exception:
            exc_info = sys.exc_info()
            raise
        finally:
            container._worker_result(context, result, exc_info)
            container._worker_teardown(context)

    def close(self) -> None:
        for dependency in self.container.dependencies:
            dependency.stop()

    def __enter__(self) -> LocalService:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
