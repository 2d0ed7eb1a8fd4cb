"""Names and addresses kept a short time by notifications (services/notifications/directory.py):
what is fresh is not asked again, what is missing or too old is, and what registration says
changed is dropped."""

from __future__ import annotations

from typing import Any

from services.notifications.directory import DirectoryCache


class Registration:
    """Answers like registration's notification_recipients, and notes what it was asked."""

    def __init__(self) -> None:
        self.asked: list[dict[str, list[str]]] = []
        self.emails = {"a1": "one@example.org", "a2": "two@example.org", "cp": "cp@example.org"}
        self.owners = {"r1": "a1", "r2": "a2"}

    def __call__(self, request: dict[str, list[str]]) -> dict[str, Any]:
        self.asked.append(request)
        registrations = {rid: {"registration_id": rid, "account_id": self.owners[rid],
                               "reference": f"REF-{rid}", "partnership_id": "p1",
                               "organisation_name": f"Org {rid}"}
                         for rid in request["registration_ids"] if rid in self.owners}
        wanted = set(request["account_ids"]) | {r["account_id"] for r in registrations.values()}
        accounts = {aid: {"account_id": aid, "name": aid.upper(), "email": self.emails[aid]}
                    for aid in sorted(wanted) if aid in self.emails}
        partnerships = {pid: {"partnership_id": pid, "code": "P", "name": "Partnership"}
                        for pid in request["partnership_ids"] if pid in ("p1", "p2")}
        points = {pid: [{"account_id": "cp", "name": "CP", "email": self.emails["cp"]}]
                  for pid in partnerships if pid == "p1"}
        return {"accounts": accounts, "registrations": registrations,
                "partnerships": partnerships, "contact_points": points}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(accounts=(), registrations=(), partnerships=()) -> dict[str, list[str]]:
    return {"account_ids": list(accounts), "registration_ids": list(registrations),
            "partnership_ids": list(partnerships)}


def test_a_fresh_answer_is_given_again_without_asking():
    registration, clock = Registration(), Clock()
    cache = DirectoryCache(30, clock)
    first = cache.lookup(request(registrations=["r1", "r2"], partnerships=["p1"]), registration)
    clock.now += 29
    again = cache.lookup(request(registrations=["r1", "r2"], partnerships=["p1"]), registration)
    assert again == first == registration(request(registrations=["r1", "r2"], partnerships=["p1"]))
    assert len(registration.asked) == 2  # the first lookup, and the comparison above


def test_only_what_is_missing_is_asked_for():
    registration, clock = Registration(), Clock()
    cache = DirectoryCache(30, clock)
    cache.lookup(request(registrations=["r1"]), registration)
    found = cache.lookup(request(registrations=["r1", "r2"], partnerships=["p1"]), registration)
    assert registration.asked[-1] == request(registrations=["r2"], partnerships=["p1"])
    # The owner of a registration found in the cache comes with it.
    assert set(found["accounts"]) == {"a1", "a2"}
    assert found["contact_points"]["p1"][0]["email"] == "cp@example.org"


def test_an_answer_older_than_the_time_to_live_is_asked_again_and_a_change_shows():
    registration, clock = Registration(), Clock()
    cache = DirectoryCache(30, clock)
    cache.lookup(request(accounts=["a1"]), registration)
    registration.emails["a1"] = "new@example.org"
    clock.now += 29.9
    assert cache.lookup(request(accounts=["a1"]), registration)["accounts"]["a1"]["email"] == (
        "one@example.org")  # the documented staleness: at most the time to live
    clock.now += 0.1
    assert cache.lookup(request(accounts=["a1"]), registration)["accounts"]["a1"]["email"] == (
        "new@example.org")
    assert len(registration.asked) == 2


def test_what_registration_did_not_find_is_not_kept():
    registration, clock = Registration(), Clock()
    cache = DirectoryCache(30, clock)
    assert cache.lookup(request(registrations=["r9"], partnerships=["p9"]), registration) == {
        "accounts": {}, "registrations": {}, "partnerships": {}, "contact_points": {}}
    registration.owners["r9"] = "a1"
    assert "r9" in cache.lookup(request(registrations=["r9"]), registration)["registrations"]
    assert len(registration.asked) == 2


def test_forgetting_a_registration_and_its_account_asks_for_them_again():
    registration, clock = Registration(), Clock()
    cache = DirectoryCache(30, clock)
    cache.lookup(request(registrations=["r1", "r2"]), registration)
    registration.emails["a1"] = "changed@example.org"
    cache.forget("r1", "a1")
    found = cache.lookup(request(registrations=["r1", "r2"]), registration)
    assert registration.asked[-1] == request(registrations=["r1"])
    assert found["accounts"]["a1"]["email"] == "changed@example.org"
    assert found["accounts"]["a2"]["email"] == "two@example.org"


def test_a_time_to_live_of_zero_asks_every_time():
    registration = Registration()
    cache = DirectoryCache(0)
    for _ in range(3):
        cache.lookup(request(registrations=["r1"]), registration)
    assert len(registration.asked) == 3
