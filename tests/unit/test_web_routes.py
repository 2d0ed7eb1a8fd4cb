"""The web application's pages beside the API in one nameko service: no page shadows an API
route, no page is in the OpenAPI document, forms nest as the services expect."""

from __future__ import annotations

import collections

from werkzeug.datastructures import MultiDict

from gateway.http import ROUTES
from gateway.web.forms import flatten_errors, nested
from gateway.web.session import safe_next


def test_no_method_of_one_route_group_shadows_another():
    from gateway.service import GatewayService

    owners = collections.defaultdict(list)
    for cls in GatewayService.__mro__[1:]:
        for name, value in vars(cls).items():
            if callable(value) and not name.startswith("_"):
                owners[name].append(cls.__name__)
    assert {name: found for name, found in owners.items() if len(found) > 1} == {}


def test_pages_stay_out_of_the_api_routes():
    assert all(route.path.startswith(("/api/", "/health", "/metrics", "/problems"))
               for route in ROUTES)


def test_form_fields_nest_and_errors_flatten():
    form = MultiDict([("organisation.country", "PT"), ("roles", "visitor"), ("roles", "host"),
                      ("organisation.employees", "12"), ("organisation.city", " "),
                      ("organisation.cluster_member", "on")])
    body = nested(form, scalars=("organisation.country", "organisation.city"), lists=("roles",),
                  integers=("organisation.employees",), booleans=("organisation.cluster_member",))
    assert body == {"organisation": {"country": "PT", "employees": 12, "cluster_member": True},
                    "roles": ["visitor", "host"]}
    assert flatten_errors({"organisation": {"country": ["Not a country."]},
                           "preferences.availability": {"0": {"end": ["Before start."]}},
                           "roles": ["Too many."]}) == {
        "organisation.country": ["Not a country."],
        "preferences.availability.0.end": ["Before start."], "roles": ["Too many."]}


def test_next_after_sign_in_is_only_a_path_of_this_site():
    assert safe_next("/exchanges/1?x=2") == "/exchanges/1?x=2"
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example", "", None):
        assert safe_next(hostile) == "/dashboard"
