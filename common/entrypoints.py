"""nameko entrypoints with the platform's defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.errors import AppError
from common.rpc import TransientRpc


def rpc(fn: Callable | None = None, **options: Any) -> Any:
    """`@rpc`: replies without confirms (see common.rpc); an AppError is the caller's
    problem, logged as expected (INFO, no traceback: common.logs), not as a crash."""
    options.setdefault("expected_exceptions", AppError)
    if fn is None:
        return TransientRpc.decorator(**options)
    return TransientRpc.decorator(**options)(fn)
