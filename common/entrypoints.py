"""nameko entrypoints with the platform's defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nameko.rpc import rpc as nameko_rpc

from common.errors import AppError


def rpc(fn: Callable | None = None, **options: Any) -> Any:
    """`@rpc`: an AppError is the caller's problem, logged as expected, not as a crash."""
    options.setdefault("expected_exceptions", AppError)
    if fn is None:
        return nameko_rpc(**options)
    return nameko_rpc(**options)(fn)
