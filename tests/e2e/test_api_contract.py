"""What a client can rely on: bad input never 500s, merge-patch edits, problems, pages, links."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.http import ROUTES
from tests.e2e.test_matching_journey import _accepted, _eventually
from tests.e2e.test_registration_journey import _draft_with_cv
from tests.helpers import (
    MINIMAL_PDF,
    login,
    make_account,
    partnership_id,
    registration_payload,
    sign_up,
    unique_email,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]


@pytest.fixture
def greenmob(db_engines: dict[str, Any]) -> str:
    return partnership_id(db_engines["registration"], "GREENMOB")


@pytest.fixture
def contact_headers(api: Any, db_engines: dict[str, Any]) -> dict[str, str]:
    email = unique_email("contact")
    make_account(db_engines["registration"], email, ["partnership_contact"], "GREENMOB")
    return login(api, email)


def _draft(api: Any, headers: dict[str, str], partnership: str) -> dict[str, Any]:
    created = api.post("/api/v1/registrations", json=registration_payload(partnership), headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


def _raw(api: Any, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A request sent exactly as written: no client normalises or re-encodes the path."""
    url = urlsplit(api.base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in {**(headers or {}), "Content-Length": str(len(body))}.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# --- input that must never give a 500 ------------------------------------------------------

def test_half_an_availability_window_in_a_patch_is_422_naming_the_field(api, greenmob):
    _e, headers = sign_up(api)
    reg = _draft(api, headers, greenmob)
    response = api.patch(f"/api/v1/registrations/{reg['id']}", headers=headers, json={
        "version": reg["version"], "preferences": {"availability": [{"end": "2027-01-01"}]}})
    assert response.status_code == 422, response.text
    assert "preferences.availability.0.start" in response.json()["errors"]


def test_deeply_nested_json_is_400(api, greenmob):
    _e, headers = sign_up(api)
    for body in ("[" * 50_000, "[" * 50_000 + "]" * 50_000, '{"a":' * 100 + "1" + "}" * 100):
        response = api.post("/api/v1/registrations", data=body, headers={
            **headers, "Content-Type": "application/json"})
        assert response.status_code == 400, response.text[:200]
        assert response.headers["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("bad", ["x\ud800y", "x\x00y"], ids=["lone-surrogate", "nul"])
def test_text_no_database_stores_is_422_naming_the_field(api, greenmob, bad):
    _e, headers = sign_up(api)
    payload = registration_payload(greenmob)
    payload["organisation"]["name"] = bad
    payload["preferences"]["sectors"] = ["textiles", bad]
    # json.dumps writes the surrogate as the escape "\ud800", as a hostile client would.
    response = api.post("/api/v1/registrations", data=json.dumps(payload), headers={
        **headers, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert {"organisation.name", "preferences.sectors.1"} <= set(response.json()["errors"])
    reg = _draft(api, headers, greenmob)
    patched = api.patch(f"/api/v1/registrations/{reg['id']}", headers={
        **headers, "Content-Type": "application/json"}, data=json.dumps({"version": 1, "motivation": bad}))
    assert patched.status_code == 422 and "motivation" in patched.json()["errors"]
    if "\x00" in bad:  # a URL cannot carry a lone surrogate at all
        query = api.get("/api/v1/registrations", params={"partnership_id": bad}, headers=headers)
        assert query.status_code == 422 and "partnership_id" in query.json()["errors"]


def test_a_nul_in_a_path_value_is_404(api):
    _e, headers = sign_up(api)
    status, _h, _b = _raw(api, "GET", "/api/v1/registrations/abc%00def", headers=headers)
    assert status == 404
    status, _h, _b = _raw(api, "GET", "/api/v1/partnerships/x%00")
    assert status == 404


def test_the_token_is_checked_before_the_body_on_every_route(api):
    routes = [r for r in ROUTES if r.auth and r.method in ("POST", "PUT", "PATCH")]
    assert len(routes) >= 8
    for route in routes:
        path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "some-id", route.path)
        response = api.request(route.method, path, data=b"\xff not json",
                               headers={"Content-Type": "text/plain"})
        assert response.status_code == 401, (route.method, path, response.status_code)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="clusterxchange"'


# --- uploads ----------------------------------------------------------------------------------

def test_a_cv_with_a_non_ascii_name_downloads_with_rfc_6266_names(api, greenmob):
    _e, headers = sign_up(api)
    reg = _draft(api, headers, greenmob)
    uploaded = api.put(f"/api/v1/registrations/{reg['id']}/cv", headers=headers,
                       files={"file": ("C:\\docs\\../Życiorys\x07.pdf", MINIMAL_PDF, "application/pdf")})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["cv"]["filename"] == "Życiorys.pdf"
    download = api.get(f"/api/v1/registrations/{reg['id']}/cv", headers=headers)
    assert download.status_code == 200 and download.content == MINIMAL_PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=\"Zyciorys.pdf\"; filename*=UTF-8''%C5%BByciorys.pdf")


def test_a_stranger_is_refused_before_the_upload_is_read(api, greenmob):
    _e, owner = sign_up(api)
    reg = _draft(api, owner, greenmob)
    _e, stranger = sign_up(api)
    # Far over the size limit: refused for size (413) if the body were read first.
    status, _h, body = _raw(api, "PUT", f"/api/v1/registrations/{reg['id']}/cv",
                            body=b"%PDF" + b"0" * (6 * 1024 * 1024),
                            headers={**stranger, "Content-Type": "application/pdf"})
    assert status == 404, body[:200]


def test_registration_checks_the_stored_head_not_a_second_download(api, greenmob, monkeypatch):
    from common.storage import ObjectStore

    def no_download(self, key):
        raise AssertionError("the whole object was downloaded again")

    monkeypatch.setattr(ObjectStore, "get", no_download)
    _e, headers = sign_up(api)
    reg = _draft(api, headers, greenmob)
    first = _draft_with_cv(api, headers, greenmob, existing=reg)
    second = _draft_with_cv(api, headers, greenmob, existing=first)
    assert second["cv"]["size"] == len(MINIMAL_PDF)
    assert second["cv"]["uploaded_at"] >= first["cv"]["uploaded_at"]


# --- access -----------------------------------------------------------------------------------

def test_a_contact_point_without_a_partnership_sees_nothing(api, greenmob, tokens, db_engines):
    _e, owner = sign_up(api)
    reg = _draft(api, owner, greenmob)
    account = make_account(db_engines["registration"], unique_email("orphan"), ["partnership_contact"])
    token, _ = tokens.issue(account, ["partnership_contact"], None, None)
    orphan = {"Authorization": f"Bearer {token}"}
    listed = api.get("/api/v1/registrations", headers=orphan)
    assert listed.status_code == 200 and listed.json() == [] and listed.headers["X-Total-Count"] == "0"
    assert api.get(f"/api/v1/registrations/{reg['id']}", headers=orphan).status_code == 404
    assert api.get(f"/api/v1/registrations/{reg['id']}/cv", headers=orphan).status_code == 404
    assert api.get("/api/v1/catalogue", headers=orphan).status_code == 403
    assert api.get(f"/api/v1/matches?registration_id={reg['id']}", headers=orphan).status_code == 404


def test_assessment_honours_if_match(api, greenmob, contact_headers):
    _e, headers = sign_up(api)
    reg = _draft_with_cv(api, headers, greenmob)
    submitted = api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers)
    etag = submitted.headers["ETag"]
    stale = api.post(f"/api/v1/registrations/{reg['id']}/assessment", json={"decision": "accept"},
                     headers={**contact_headers, "If-Match": '"1"'})
    assert stale.status_code == 409 and stale.json()["type"] == "/problems/stale-version"
    accepted = api.post(f"/api/v1/registrations/{reg['id']}/assessment", json={"decision": "accept"},
                        headers={**contact_headers, "If-Match": etag})
    assert accepted.status_code == 200, accepted.text


# --- API semantics ----------------------------------------------------------------------------

def test_patch_is_a_json_merge_patch(api, greenmob):
    _e, headers = sign_up(api)
    reg = _draft(api, headers, greenmob)
    url = f"/api/v1/registrations/{reg['id']}"
    patched = api.patch(url, data=json.dumps({"organisation": {"city": None},
                                              "representative": {"phone": None}}),
                        headers={**headers, "Content-Type": "application/merge-patch+json",
                                 "If-Match": f'"{reg["version"]}"'})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["organisation"]["city"] is None and "phone" not in body["representative"]
    assert body["organisation"]["name"] == reg["organisation"]["name"]
    assert body["representative"]["first_name"] == "Ana"
    refused = api.patch(url, json={"version": body["version"], "organisation": {"name": None}},
                        headers=headers)
    assert refused.status_code == 422 and "organisation.name" in refused.json()["errors"]


def test_patch_without_a_version_is_428(api, greenmob):
    _e, headers = sign_up(api)
    reg = _draft(api, headers, greenmob)
    response = api.patch(f"/api/v1/registrations/{reg['id']}", json={"motivation": "x"}, headers=headers)
    assert response.status_code == 428
    assert response.json()["type"] == "/problems/precondition-required"


def test_frozen_fields_may_be_sent_unchanged(api, greenmob, contact_headers):
    _e, headers = sign_up(api)
    reg = _draft_with_cv(api, headers, greenmob)
    api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers)
    accepted = api.post(f"/api/v1/registrations/{reg['id']}/assessment", json={"decision": "accept"},
                        headers=contact_headers).json()
    url = f"/api/v1/registrations/{reg['id']}"
    same = {"organisation": {"name": accepted["organisation"]["name"], "country": "PT"},
            "roles": accepted["roles"], "partnership_id": greenmob, "motivation": "A new focus."}
    unchanged = api.patch(url, json={**same, "version": accepted["version"]}, headers=headers)
    assert unchanged.status_code == 200, unchanged.text
    changed = api.patch(url, json={"organisation": {"country": "DE"},
                                   "version": unchanged.json()["version"]}, headers=headers)
    assert changed.status_code == 409 and "organisation" in changed.json()["detail"]


def test_problem_types_resolve_to_pages_and_plain_errors_are_about_blank(api):
    missing = api.get("/api/v1/partnerships/nope")
    problem = missing.json()
    assert problem["type"] == "/problems/not-found"
    page = api.get(problem["type"])
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "Not found" in page.text
    assert api.get("/problems/precondition-required").status_code == 200
    assert api.get("/problems/no-such-thing").status_code == 404
    unrouted = api.get("/api/v1/nothing-here").json()
    assert unrouted["type"] == "about:blank" and unrouted["title"] == "Not Found"


def test_405_says_what_is_allowed(api):
    response = api.delete("/api/v1/partnerships")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}


def test_empty_query_values_are_validated(api):
    _e, headers = sign_up(api)
    for query in ("country=", "status=", "page=", "role="):
        response = api.get(f"/api/v1/registrations?{query}", headers=headers)
        assert response.status_code == 422, query


def test_partnerships_are_addressable_by_code(api, greenmob):
    by_code = api.get("/api/v1/partnerships/GREENMOB")
    assert by_code.status_code == 200 and by_code.json()["id"] == greenmob


def test_lists_send_link_headers_with_the_same_query(api, greenmob, db_engines):
    admin_email = unique_email("admin")
    make_account(db_engines["registration"], admin_email, ["admin"])
    admin = login(api, admin_email)
    for _ in range(3):
        _e, headers = sign_up(api)
        _draft(api, headers, greenmob)
    page = api.get("/api/v1/registrations?status=draft&per_page=1&page=2", headers=admin)
    assert page.status_code == 200 and page.headers["X-Total-Count"] == "3"
    links = {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', page.headers["Link"])}
    assert set(links) == {"first", "prev", "next", "last"}
    assert links["last"] == "/api/v1/registrations?status=draft&per_page=1&page=3"
    assert links["prev"].endswith("page=1") and "status=draft" in links["first"]
    assert api.get(links["next"], headers=admin).json()[0]["id"] != page.json()[0]["id"]


def test_matches_are_paged_and_contacts_name_their_counterpart(api, greenmob, contact_headers):
    visitor, visitor_reg = _accepted(api, contact_headers, greenmob, "PT", ["visitor"], "Textile recycling.")
    host_regs = [_accepted(api, contact_headers, greenmob, country, ["host"], "Recycling plants.")
                 for country in ("DE", "FR", "IT")]
    url = f"/api/v1/matches?registration_id={visitor_reg}&per_page=2"

    def all_three() -> Any:
        response = api.get(url, headers=visitor)
        return response if response.headers.get("X-Total-Count") == "3" else None

    first = _eventually(all_three)
    assert first is not None and len(first.json()) == 2 and 'rel="next"' in first.headers["Link"]
    second = api.get(url + "&page=2", headers=visitor)
    assert len(second.json()) == 1
    assert {m["registration_id"] for m in first.json() + second.json()} == {r for _h, r in host_regs}
    sectors = next(r for r in first.json()[0]["explanation"]["fits"] if r["kind"] == "sectors")
    assert sectors["detail"] == "Both work in Textiles." and sectors["values"] == ["textiles"]

    host, host_reg = host_regs[0]
    asked = api.post("/api/v1/contacts", json={"registration_id": host_reg, "message": "Hello"},
                     headers=visitor)
    assert asked.status_code == 201
    assert asked.json()["counterpart"] == {"registration_id": host_reg, "name": "Cluster Têxtil Norte",
                                           "country": "DE"}
    received = api.get(asked.headers["Location"], headers=host).json()
    assert received["counterpart"]["registration_id"] == visitor_reg
    api.post(f"/api/v1/contacts/{asked.json()['id']}/accept", headers=host)
    posted = api.post(f"/api/v1/contacts/{asked.json()['id']}/messages", json={"body": "Hi"},
                      headers=host)
    assert posted.status_code == 201
    fetched = api.get(posted.headers["Location"], headers=visitor)
    assert fetched.status_code == 200 and fetched.json()["body"] == "Hi" and not fetched.json()["mine"]


def test_the_openapi_document_declares_every_status_and_the_shapes(api):
    document = api.get("/api/v1/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            codes = set(op["responses"])
            if op.get("security"):
                assert "401" in codes, (method, path)
            if "requestBody" in op:
                assert {"400", "413", "415"} <= codes, (method, path)
            if path.startswith("/api/v1/") and path not in ("/api/v1/openapi.json", "/api/v1/asyncapi.json"):
                assert {"503", "504"} <= codes, (method, path)
            if method == "patch":
                assert "428" in codes
    registration = document["components"]["schemas"]["Registration"]["properties"]
    assert registration["cv"] == {"allOf": [{"$ref": "#/components/schemas/Cv"}], "nullable": True}
    assert "anyOf" not in json.dumps(document)
    cv = document["paths"]["/api/v1/registrations/{registration_id}/cv"]["get"]["responses"]["200"]
    assert set(cv["content"]) == {
        "application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
    created = document["paths"]["/api/v1/registrations"]["post"]["responses"]["201"]
    assert {"GetRegistration", "UpdateRegistration", "SubmitRegistration", "UploadCv"} <= set(
        created["links"])
    operation_ids = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    for ops in document["paths"].values():
        for op in ops.values():
            for response in op["responses"].values():
                for link in response.get("links", {}).values():
                    assert link["operationId"] in operation_ids
    matches = document["paths"]["/api/v1/matches"]["get"]
    assert {p["name"] for p in matches["parameters"]} >= {"page", "per_page", "registration_id"}


def test_the_previous_cv_goes_after_commit_and_a_failed_delete_is_only_logged(
        api, greenmob, config, db_engines, monkeypatch, caplog):
    from sqlalchemy import text

    from common.errors import NotFound
    from common.storage import ObjectStore

    store = ObjectStore(config["STORAGE"])

    def cv_key(registration_id: str) -> str:
        with db_engines["registration"].connect() as conn:
            return conn.execute(text("SELECT cv_key FROM registrations WHERE id = :i"),
                                {"i": registration_id}).scalar_one()

    _e, headers = sign_up(api)
    reg = _draft_with_cv(api, headers, greenmob)
    first = cv_key(reg["id"])
    reg = _draft_with_cv(api, headers, greenmob, existing=reg)
    second = cv_key(reg["id"])
    assert second != first and store.stat(second).size == len(MINIMAL_PDF)
    with pytest.raises(NotFound):
        store.stat(first)

    def unavailable(self, key):
        raise ConnectionError("object store unreachable")

    monkeypatch.setattr(ObjectStore, "delete", unavailable)
    third = api.put(f"/api/v1/registrations/{reg['id']}/cv", data=MINIMAL_PDF,
                    headers={**headers, "Content-Type": "application/pdf"})
    assert third.status_code == 200, third.text
    assert cv_key(reg["id"]) not in (first, second)
    assert "could not delete the previous CV" in caplog.text
