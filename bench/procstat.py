"""CPU time of processes from /proc, and the machine's load, for the benchmarks' figures."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def load() -> str:
    """The 1/5/15-minute load averages, as `load 1.23/0.98/0.70`."""
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return f"load {one}/{five}/{fifteen}"


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU used by named groups of processes between `start()` and `stop()`.

    `groups` maps a name to a callable returning the group's pids at that moment (the
    PostgreSQL backends of a database come and go with its connection pool).
    """

    def __init__(self, groups: dict[str, object]) -> None:
        self.groups = groups
        self._before: dict[str, dict[int, float]] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in _pids(source)}
                for name, source in self.groups.items()}

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> dict[str, float]:
        """CPU seconds per group since start (processes present at both ends)."""
        after = self._sample()
        used = {}
        for name, pids in after.items():
            before = self._before.get(name, {})
            used[name] = sum(max(cpu - before.get(pid, cpu), 0.0) for pid, cpu in pids.items())
        return used


def _pids(source: object) -> Iterable[int]:
    return source() if callable(source) else source  # type: ignore[return-value]
