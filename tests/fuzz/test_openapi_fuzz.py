"""Schemathesis over every operation of the OpenAPI document, against a live system, as each
role: no 5xx, no status, media type, header or body the document does not declare.

`make test` runs a bounded pass (FUZZ_MAX_EXAMPLES, default 5 per operation); `make fuzz`
the full one. The command of each run is printed, so a failure can be replayed by hand.
`FUZZ_PATHS` (a regex of paths, e.g. `statistics|/history$`) limits a run to a few routes.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

import eventlet
import pytest
from eventlet.green import subprocess

from tests.e2e.test_matching_journey import _accepted
from tests.helpers import login, make_account, partnership_id, unique_email

pytestmark = [pytest.mark.fuzz, pytest.mark.usefixtures("notifications_container")]

CHECKS = os.environ.get("FUZZ_CHECKS", "not_a_server_error,status_code_conformance,"
                        "content_type_conformance,response_headers_conformance,"
                        "response_schema_conformance")
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "5"))
PHASES = os.environ.get("FUZZ_PHASES", "examples,fuzzing,stateful")
ST = str(Path(sys.executable).with_name("st"))


@pytest.fixture
def role_headers(api: Any, db_engines: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A participant with an accepted registration and a counterpart to match, the
    partnership's contact point, a back-office key of the partnership (with a webhook), a
    support agent, an administrator, and nobody."""
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    contact_email, admin_email = unique_email("contact"), unique_email("admin")
    agent_email = unique_email("agent")
    make_account(db_engines["registration"], agent_email, ["support_agent"])
    make_account(db_engines["registration"], contact_email, ["partnership_contact"], "GREENMOB")
    make_account(db_engines["registration"], admin_email, ["admin"])
    contact = login(api, contact_email)
    participant, _reg = _accepted(api, contact, greenmob, "PT", ["visitor"], "Textile recycling.")
    _accepted(api, contact, greenmob, "DE", ["host"], "Recycling plants.")
    key = api.post("/api/v1/api-keys", json={"name": "fuzz"}, headers=contact).json()["key"]
    backoffice = {"Authorization": f"Bearer {key}"}
    hook = api.post("/api/v1/webhooks", json={"url": "https://hooks.example.eu/cxc",
                                              "event_types": ["registration_accepted"]},
                    headers=backoffice)
    assert hook.status_code == 201, hook.text
    return {"participant": participant, "contact_point": contact, "backoffice": backoffice,
            "admin": login(api, admin_email), "support_agent": login(api, agent_email),
            "anonymous": {}}


# Signing out ends the session a role's runs use: those operations run last, on their own.
SIGN_OUT = "^/api/v1/account/sign-out"


def _run(base: str, role: str, headers: dict[str, str], report: Path,
         select: tuple[str, ...] = ("--exclude-path-regex", SIGN_OUT)) -> tuple[int, str]:
    only = os.environ.get("FUZZ_PATHS")
    command = [ST, "run", f"{base}/api/v1/openapi.json", "--url", base, "--checks", CHECKS,
               *select, *(("--include-path-regex", only) if only and "--include-path-regex" not in select
                          else ()),
               "--max-examples", str(MAX_EXAMPLES),
               *(() if "--phases" in select else ("--phases", PHASES)),
               # One worker: hypothesis' lambda descriptions trip a CPython 3.11 AST bug in threads.
               "--workers", os.environ.get("FUZZ_WORKERS", "1"),
               "--seed", os.environ.get("FUZZ_SEED", "20261125"), "--no-color",
               "--request-timeout", "30", "--suppress-health-check", "all",
               "--report", "ndjson", "--report-dir", str(report)]
    shown = list(command)
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
        shown += ["-H", f"'{name}: …'"]
    print(f"[{role}]", " ".join(shown))
    report.mkdir(parents=True, exist_ok=True)
    log = report / f"{role}.log"
    with log.open("w") as out:
        # Run from the report directory: schemathesis keeps its cache in the working directory.
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=report,
                                env={**os.environ, "NO_COLOR": "1"})
        # The gateway serves from this very process: eventlet's green Popen waits
        # cooperatively, never blocking the hub.
        try:
            code = proc.wait(float(os.environ.get("FUZZ_TIMEOUT", "600")))
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    return code, log.read_text()


# Two runs side by side (FUZZ_SIDE_BY_SIDE=0: one at a time), as schemathesis generates in its
# own process while this one serves (two keep both cores busy). A pair's roles change different objects,
# so neither sees the other's change under it: administrators assess registrations (as
# contact points do), act on exchanges (as participants do) and answer support queries (as
# agents do), so they run beside the back-office key, which only reads and manages its own
# webhooks. A role in no pair runs alone. Measured alone on a quiet 2-core machine: 65-66 s
# side by side, two runs both green, against 114 s one at a time.
PAIRS = (("participant", "anonymous"), ("contact_point", "support_agent"),
         ("backoffice", "admin"))


def _side_by_side(runs: list[tuple[str, Any]]) -> list[tuple[str, int, str]]:
    """Each (role, start) of `runs` at once, every start a function that runs and returns
    (exit code, output); the results in order."""
    threads = [(role, eventlet.spawn(start)) for role, start in runs]
    return [(role, *thread.wait()) for role, thread in threads]


@pytest.mark.timeout(int(os.environ.get("FUZZ_TIMEOUT", "600")) * 4 + 60)
def test_every_operation_as_every_role_answers_as_documented(api, role_headers, tmp_path):
    failures = []
    roles = os.environ.get("FUZZ_ROLES")  # e.g. "backoffice,anonymous" to replay a few
    if roles:
        role_headers = {role: role_headers[role] for role in roles.split(",")}
    paired = {role for pair in PAIRS for role in pair}
    batches = [[role] for role in role_headers if role not in paired]
    if os.environ.get("FUZZ_SIDE_BY_SIDE", "1") == "1":
        batches += [[role for role in pair if role in role_headers] for pair in PAIRS]
    else:  # one run at a time
        batches += [[role] for role in role_headers if role in paired]
    for batch in filter(None, batches):
        for role, code, output in _side_by_side([
                (role, functools.partial(_run, api.base, role, role_headers[role],
                                         tmp_path / role)) for role in batch]):
            if code != 0:
                failures.append(f"--- {role} (exit {code}) ---\n{output[-6000:]}")
    # Each role signs out of its own session only: these runs go all at once.
    for role, code, output in _side_by_side([
            (role, functools.partial(_run, api.base, role, headers, tmp_path / f"{role}-sign-out",
                                     ("--include-path-regex", SIGN_OUT, "--phases", "fuzzing")))
            for role, headers in role_headers.items()]):
        if code != 0:
            failures.append(f"--- {role}, signing out (exit {code}) ---\n{output[-6000:]}")
    assert not failures, "\n".join(failures)
