"""`python -m bench.profile_summary STACKS.txt [N]`: where a process spent its time, from the
collapsed stacks `py-spy record --format raw` writes (bench/gateway/run.py --profile).

Prints the functions by self time and by inclusive time, the event loop's idle wait left out.
"""

from __future__ import annotations

import sys
from collections import defaultdict

IDLE = ("do_poll", "poll (", "wait (eventlet/hubs", "run (eventlet/hubs")


def summarise(path: str, top: int) -> None:
    own: dict[str, int] = defaultdict(int)
    inclusive: dict[str, int] = defaultdict(int)
    total = 0
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        frames = [f.split(":")[0] + ")" if ":" in f else f for f in stack.split(";")]
        if any(frames[-1].startswith(i) for i in IDLE):
            continue
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    print(f"{path}: {total} busy samples")
    for title, table in (("self", own), ("inclusive", inclusive)):
        print(f"-- by {title} time")
        for name, samples in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{100 * samples / max(total, 1):6.1f}%  {name}")


if __name__ == "__main__":
    summarise(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40)
