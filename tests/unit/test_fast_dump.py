"""fast_dump gives exactly what marshmallow's dump gives (same keys, same order, same values)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields, post_dump

from common.fast_dump import fast_dump
from services.registration.schemas import RegistrationSchema

NOW = datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=UTC)


def full_registration() -> dict:
    return {
        "id": "reg-1", "reference": "CXC-2026-00001", "version": 3, "status": "submitted",
        "account_id": "acc-1", "partnership_id": "p-1", "roles": ["visitor", "host"],
        "organisation": {"id": "org-1", "name": "Acme", "type": "sme", "country": "BE",
                         "city": "Gent", "postcode": "9000", "address": "Street 1",
                         "website": "https://acme.example", "registration_number": "BE01",
                         "employees": 12, "cluster_member": True, "cluster_name": "Flanders",
                         "latitude": 51.05, "longitude": 3.72, "unknown_column": "dropped"},
        "representative": {"first_name": "Ann", "last_name": "Peeters",
                           "email": "ann@acme.example", "phone": "+32 9 123 45 67",
                           "position": "CEO", "date_of_birth": "1980-02-03",
                           "nationality": "BE", "residence_country": "BE",
                           "residence_days": 400, "residence_permit": None},
        "motivation": "Grow", "expertise": None,
        "preferences": {"sectors": ["agrifood"], "target_countries": ["DE", "FR"],
                        "activity_types": [], "objectives": ["market"],
                        "availability": [{"start": "2027-01-01", "end": "2027-02-01"}],
                        "languages": ["en", "nl"], "modes": ["physical"], "host_capacity": 2,
                        "alumni_opt_in": True},
        "cv": {"key": "secret/key", "filename": "cv.pdf", "content_type": "application/pdf",
               "size": 1234, "sha256": "ab" * 32, "uploaded_at": NOW},
        "assessment": {"decision": "accept", "comment": None, "assessed_by": "acc-2",
                       "assessed_at": NOW},
        "submitted_at": NOW, "withdrawn_at": None, "created_at": NOW, "updated_at": NOW,
    }


def variants() -> list:
    full = full_registration()
    sparse = {key: value for key, value in full.items()
              if key not in ("motivation", "cv", "assessment", "withdrawn_at")}
    sparse.update(organisation={"id": "org-2", "name": "B", "type": "sme", "country": "NL"},
                  representative={}, preferences={})
    # Values that are not yet of the output type: marshmallow converts them, so must we.
    odd = full_registration()
    odd.update(id=uuid.UUID(int=7), version="4", roles=("host", 5), reference=123,
               cv=None, assessment=None, submitted_at=None)
    odd["organisation"].update(employees=Decimal("12"), latitude=Decimal("51.5"),
                               longitude=3, cluster_member=1, city=None)
    odd["representative"].update(date_of_birth=date(1980, 2, 3), residence_days=True)
    odd["preferences"].update(availability=[{"start": date(2027, 1, 1), "end": None}])
    as_object = SimpleNamespace(**full_registration())  # a Row: attributes, not keys
    return [full, sparse, odd, as_object, {}]


@pytest.mark.parametrize("obj", variants(), ids=["full", "sparse", "odd-types", "object", "empty"])
def test_registration_dump_is_marshmallows(obj):
    schema = RegistrationSchema()
    expected = schema.dump(obj)
    got = fast_dump(schema)(obj)
    assert got == expected
    assert json.dumps(got, default=str) == json.dumps(expected, default=str)  # key order too


def test_many_and_nested_none():
    schema = RegistrationSchema()
    items = [full_registration(), full_registration() | {"organisation": None}]
    assert fast_dump(schema)(items, many=True) == schema.dump(items, many=True)


class Renamed(Schema):
    name = fields.String(data_key="title")
    size = fields.Integer(attribute="length", dump_default=0)
    created = fields.DateTime(dump_default=lambda: NOW)
    secret = fields.String(load_only=True)
    shown = fields.String(dump_only=True)


class Unusual(Renamed):
    answer = fields.Constant(42)  # fields that do not read their attribute
    label = fields.Method("make_label")

    def make_label(self, obj):
        return "label"


class Hooked(Schema):
    name = fields.String()

    @post_dump
    def shout(self, data, **kwargs):
        return {key: value.upper() for key, value in data.items()}


def test_data_keys_attributes_defaults_and_load_only():
    assert fast_dump(Renamed()) != Renamed().dump
    for obj in ({"name": "n", "length": 3, "secret": "s", "shown": 1},
                {"name": None}, {}):
        assert fast_dump(Renamed())(obj) == Renamed().dump(obj)
    assert "secret" not in fast_dump(Renamed())({"secret": "s"})


def test_schemas_with_unusual_fields_are_dumped_by_marshmallow():
    schema = Unusual()
    assert fast_dump(schema) == schema.dump
    assert fast_dump(schema)({}) == {"size": 0, "created": NOW.isoformat(), "answer": 42,
                                     "label": "label"}


def test_schemas_with_hooks_are_dumped_by_marshmallow():
    schema = Hooked()
    assert fast_dump(schema) == schema.dump
    assert fast_dump(schema)({"name": "a"}) == {"name": "A"}


def test_plain_schema_is_compiled():
    assert fast_dump(RegistrationSchema()) != RegistrationSchema().dump
