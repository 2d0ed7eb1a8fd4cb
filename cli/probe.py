"""`python -m cli.probe [livez|readyz]`: exit 0 when this container's process answers 200 on
its health port (HEALTH_PORT), for healthchecks in images without curl."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "readyz"
    port = os.environ.get("HEALTH_PORT", "").strip()
    if path not in ("livez", "readyz") or not port:
        print("usage: HEALTH_PORT=<port> python -m cli.probe [livez|readyz]", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=3) as answer:  # noqa: S310 - fixed local URL
            return 0 if answer.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
