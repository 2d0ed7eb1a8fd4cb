"""Administrators' account management through the broker: only administrators, stale
versions refused, no self-demotion, suspension stops sign-in and revokes tokens, audit."""

from __future__ import annotations

import pytest

from common.errors import (
    Conflict,
    InvalidState,
    NotAllowed,
    NotFound,
    PreconditionRequired,
    StaleVersion,
    Unauthorized,
    ValidationFailed,
)
from tests.helpers import (
    PASSWORD,
    account_requests,
    make_account,
    message_context,
    partnership_id,
    unique_email,
)


@pytest.fixture
def admin(db_engines, rpc_as):
    admin_id = make_account(db_engines["registration"], unique_email("admin"), ["admin"])
    return admin_id, rpc_as(admin_id, ["admin"])


def test_only_administrators_manage_accounts(rpc_as, admin, db_engines):
    target = make_account(db_engines["registration"], unique_email("p"), ["participant"])
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    for roles, partnership in ((["participant"], None), (["support_agent"], None),
                               (["partnership_contact"], greenmob), (["backoffice"], greenmob)):
        someone = rpc_as(target, roles, partnership)
        for call in (lambda: someone.list_accounts({}), lambda: someone.get_account(target),
                     lambda: someone.list_account_audit(target, {}),
                     lambda: someone.update_account(target, {"roles": ["admin"], "version": 1}),
                     lambda: someone.suspend_account(target, {}),
                     lambda: someone.reactivate_account(target, {}),
                     lambda: someone.invite_account({"email": unique_email("x"), "full_name": "X",
                                                     "roles": ["admin"]})):
            with pytest.raises(NotAllowed):
                call()
    with pytest.raises(Unauthorized):
        rpc_as("", []).list_accounts({})
    _admin_id, as_admin = admin
    with pytest.raises(NotFound):
        as_admin.get_account("00000000-0000-0000-0000-000000000000")


def test_the_list_filters_by_role_partnership_status_and_text(admin, db_engines):
    _admin_id, as_admin = admin
    engine = db_engines["registration"]
    marker = unique_email("zq").split("@")[0]
    contact = make_account(engine, f"{marker}-c@example.eu", ["partnership_contact"], "GREENMOB")
    agent = make_account(engine, f"{marker}-a@example.eu", ["support_agent"])
    found = as_admin.list_accounts({"q": marker.upper()})
    assert {a["id"] for a in found["items"]} == {contact, agent} and found["total"] == 2
    assert [a["id"] for a in as_admin.list_accounts({"q": marker, "role": "support_agent"})[
        "items"]] == [agent]
    greenmob = partnership_id(engine, "GREENMOB")
    assert [a["id"] for a in as_admin.list_accounts({"q": marker, "partnership_id": greenmob})[
        "items"]] == [contact]
    page = as_admin.list_accounts({"q": marker, "per_page": 1, "page": 2})
    assert page["total"] == 2 and len(page["items"]) == 1
    assert as_admin.list_accounts({"q": marker, "status": "active"})["total"] == 2
    assert as_admin.list_accounts({"q": "%_"})["total"] == 0  # wildcards are plain text
    with pytest.raises(ValidationFailed):
        as_admin.list_accounts({"status": "gone"})


def test_an_invitation_makes_an_unverified_account_and_an_email_request(admin, config, db_engines):
    admin_id, as_admin = admin
    email = unique_email("invitee")
    with pytest.raises(ValidationFailed) as missing:
        as_admin.invite_account({"email": email, "full_name": "Ines", "roles": ["partnership_contact"]})
    assert "partnership_id" in missing.value.errors
    with pytest.raises(ValidationFailed):
        as_admin.invite_account({"email": email, "full_name": "Ines", "roles": ["participant"]})
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    payload = {"email": email, "full_name": "Ines", "roles": ["partnership_contact"],
               "partnership_id": greenmob}
    invited = as_admin.invite_account(payload, idempotency_key="invite-1")
    assert invited["status"] == "unverified" and invited["version"] == 1
    assert as_admin.invite_account(payload, idempotency_key="invite-1")["id"] == invited["id"]
    with pytest.raises(Conflict):
        as_admin.invite_account(payload)
    requests = account_requests(config, invited["id"], "account_invited")
    assert len(requests) == 1
    context = message_context(config, invited["id"], requests[0])
    assert context["purpose"] == "invitation" and context["token"] and context["email"] == email
    audit = as_admin.list_account_audit(invited["id"], {})["items"]
    assert audit[0]["action"] == "invited" and audit[0]["actor_id"] == admin_id
    assert audit[0]["changes"]["roles"] == {"from": None, "to": ["partnership_contact"]}


def test_role_changes_need_the_current_version_and_never_demote_oneself(admin, db_engines, rpc_as):
    admin_id, as_admin = admin
    target = make_account(db_engines["registration"], unique_email("t"), ["participant"])
    with pytest.raises(PreconditionRequired):
        as_admin.update_account(target, {"roles": ["support_agent"]})
    changed = as_admin.update_account(target, {"roles": ["support_agent"], "version": 1})
    assert changed["roles"] == ["support_agent"] and changed["version"] == 2
    with pytest.raises(StaleVersion):
        as_admin.update_account(target, {"roles": ["admin"], "version": 1})
    with pytest.raises(ValidationFailed):
        as_admin.update_account(target, {"roles": ["partnership_contact"], "version": 2})
    with pytest.raises(ValidationFailed):
        as_admin.update_account(target, {"partnership_id": "no-such", "version": 2})
    with pytest.raises(NotAllowed):
        as_admin.update_account(admin_id, {"roles": ["support_agent"], "version": 1})
    with pytest.raises(NotAllowed):
        as_admin.suspend_account(admin_id, {})
    # Another administrator may take the role away; the audit trail says who and what.
    other_id = make_account(db_engines["registration"], unique_email("admin2"), ["admin"])
    rpc_as(other_id, ["admin"]).update_account(admin_id, {"roles": ["support_agent"],
                                                           "version": 1})
    entries = rpc_as(other_id, ["admin"]).list_account_audit(admin_id, {})["items"]
    assert entries[0]["action"] == "changed" and entries[0]["actor_id"] == other_id
    assert entries[0]["changes"] == {"roles": {"from": ["admin"], "to": ["support_agent"]}}


def test_a_suspended_account_cannot_sign_in_and_its_tokens_are_refused(admin, db_engines, rpc_as):
    _admin_id, as_admin = admin
    email = unique_email("s")
    target = make_account(db_engines["registration"], email, ["participant"])
    anonymous = rpc_as("", [])
    token = anonymous.create_token({"email": email, "password": PASSWORD})["access_token"]
    as_target = rpc_as("", [], token=token)
    assert as_target.get_me()["id"] == target
    suspended = as_admin.suspend_account(target, {"version": 1, "reason": "Left the programme"})
    assert suspended["status"] == "suspended" and suspended["version"] == 2
    with pytest.raises(Unauthorized):
        as_target.get_me()
    with pytest.raises(Unauthorized) as refused:
        anonymous.create_token({"email": email, "password": PASSWORD})
    assert "suspended" in refused.value.detail
    with pytest.raises(Unauthorized) as wrong:
        anonymous.create_token({"email": email, "password": "not the password at all"})
    assert "suspended" not in wrong.value.detail  # a guesser learns nothing new
    with pytest.raises(InvalidState):
        as_admin.suspend_account(target, {})
    with pytest.raises(StaleVersion):
        as_admin.reactivate_account(target, {"version": 1})
    active = as_admin.reactivate_account(target, {"version": 2})
    assert active["status"] == "active"
    assert anonymous.create_token({"email": email, "password": PASSWORD})["access_token"]
    actions = [e["action"] for e in as_admin.list_account_audit(target, {})["items"]]
    assert actions == ["reactivated", "suspended"]
