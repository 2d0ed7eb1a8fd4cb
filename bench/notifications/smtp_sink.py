"""An aiosmtpd handler for the benchmark: accepts every message and writes one line per
message, `<Message-ID> <arrival time>`, to a file (nothing else is kept)."""

from __future__ import annotations

import re
import time
from argparse import ArgumentParser
from typing import Any

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.I | re.M)


class Recorder:
    def __init__(self, path: str) -> None:
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the server

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> Recorder:
        if len(args) != 1:
            parser.error("Recorder needs the path of its output file")
        return cls(args[0])

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = _MESSAGE_ID.search(envelope.content or b"")
        self.out.write(f"{found.group(1).decode() if found else '-'} {time.time():.6f}\n")
        return "250 Message accepted for delivery"
