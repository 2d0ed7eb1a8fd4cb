"""Rules behind the API contract, without a broker: merge patches, access, text, names."""

from __future__ import annotations

import pytest

from common.auth import Caller
from common.schemas import text_errors
from common.storage import check_document_head, safe_filename
from gateway.requests import MAX_JSON_DEPTH, json_depth
from gateway.routes.base import content_disposition
from services.registration import domain
from tests.helpers import MINIMAL_PDF


def _caller(*roles: str, partnership: str | None = None) -> Caller:
    return Caller("acc-1", frozenset(roles), None, partnership)


def test_merge_patch_merges_objects_removes_nulls_and_replaces_arrays():
    target = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}
    assert domain.merge_patch(target, {"b": {"c": None, "x": 9}, "e": [3], "a": None}) == {
        "b": {"d": 3, "x": 9}, "e": [3]}


def test_unchanged_members_are_not_changes():
    current = {"organisation": {"name": "A", "city": None, "id": "o1"}, "roles": ["visitor"]}
    assert domain.changed_members(current, {"organisation": {"name": "A"}, "roles": ["visitor"]}) == set()
    assert domain.changed_members(current, {"organisation": {"city": "Porto"}}) == {"organisation"}
    assert domain.changed_members(current, {"organisation": {"city": None}}) == set()
    both = {"roles": ["visitor", "host"]}
    assert domain.changed_members(both, {"roles": ["host", "visitor"]}) == set()
    assert domain.changed_members(both, {"roles": ["host"]}) == {"roles"}


def test_a_contact_point_without_a_partnership_is_contact_of_nothing():
    orphan = _caller("partnership_contact")
    assert not domain.can_view(orphan, "someone", None)  # type: ignore[arg-type]
    assert domain.visible_scope(orphan) is None
    assert domain.visible_scope(_caller("partnership_contact", partnership="p1")) == (None, "p1")
    assert domain.visible_scope(_caller("admin")) == (None, None)


def test_text_no_database_stores_is_named_by_its_path():
    errors = text_errors({"a": ["ok", "x\x00"], "b": {"c": "\ud800"}, "d\x00": 1})
    assert set(errors) == {"a.1", "b.c", "d\x00"}
    deep: object = "fine"
    for _ in range(10_000):
        deep = [deep]
    assert text_errors({"deep": deep}) == {}


def test_json_depth_counts_without_recursion():
    deep: object = 1
    for _ in range(100_000):
        deep = [deep]
    assert json_depth(deep) > MAX_JSON_DEPTH
    assert json_depth({"a": [{"b": 1}]}) == 3 and json_depth(1) == 0


@pytest.mark.parametrize(("raw", "kept"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\ana\\Życiorys.pdf", "Życiorys.pdf"),
    ("cv\x00\x1b.pdf", "cv.pdf"), ("\u202egpj.exe", "gpj.exe"), ("", "cv"), ("..", "cv"),
    (None, "cv"), ("x" * 500 + ".docx", "x" * 145 + ".docx"),
])
def test_file_names_keep_the_base_name_only(raw, kept):
    assert safe_filename(raw, "cv") == kept


def test_downloads_name_files_the_rfc_6266_way():
    assert content_disposition('Życiorys "1".pdf') == (
        "attachment; filename=\"Zyciorys 1.pdf\"; filename*=UTF-8''%C5%BByciorys%20%221%22.pdf")


def test_a_stored_document_is_checked_from_its_head_and_size():
    assert check_document_head(MINIMAL_PDF[:16], 10, frozenset({"application/pdf"}), 100) == "application/pdf"
    from common.errors import PayloadTooLarge, UnsupportedMediaType

    with pytest.raises(PayloadTooLarge):
        check_document_head(MINIMAL_PDF, 101, frozenset({"application/pdf"}), 100)
    with pytest.raises(UnsupportedMediaType):
        check_document_head(b"", 0, frozenset({"application/pdf"}), 100)
