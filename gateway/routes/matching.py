"""The catalogue, matches and contacts."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from gateway.http import api, json_response
from gateway.requests import json_body, query_args
from gateway.routes.base import V1, Routes, paged
from services.matching import schemas as matching

CONTACT = f"{V1}/contacts/<string:contact_id>"
_CONTACT_ID = {"contact_id": "$response.body#/id"}
CONTACT_LINKS = {
    "GetContact": {"operationId": "get_api_v1_contacts_by_contact_id", "parameters": _CONTACT_ID},
    "AcceptContact": {"operationId": "post_api_v1_contacts_by_contact_id_accept",
                      "parameters": _CONTACT_ID},
    "DeclineContact": {"operationId": "post_api_v1_contacts_by_contact_id_decline",
                       "parameters": _CONTACT_ID},
    "ListMessages": {"operationId": "get_api_v1_contacts_by_contact_id_messages",
                     "parameters": _CONTACT_ID},
    "PostMessage": {"operationId": "post_api_v1_contacts_by_contact_id_messages",
                    "parameters": _CONTACT_ID},
}
MESSAGE_LINKS = {
    "GetMessage": {"operationId": "get_api_v1_contacts_by_contact_id_messages_by_message_id",
                   "parameters": {"contact_id": "$response.body#/contact_id",
                                  "message_id": "$response.body#/id"}},
}
ENTRY_LINKS = {
    "GetCatalogueEntry": {"operationId": "get_api_v1_catalogue_by_registration_id",
                          "parameters": {"registration_id": "$response.body#/registration_id"}},
    "ContactParticipant": {"operationId": "post_api_v1_contacts",
                           "requestBody": {"registration_id": "$response.body#/registration_id",
                                           "message": "Hello, shall we talk about an exchange?"}},
}


class MatchingRoutes(Routes):
    @api("GET", f"{V1}/catalogue", "Search the catalogue of accepted participants",
         tags=["matching"], query=matching.CatalogueQuerySchema,
         response=matching.CatalogueEntrySchema, many=True, errors=(401, 403, 422))
    def search_catalogue(self, request: Request) -> Response:
        return paged(self._call(request, "matching", "search_catalogue", query_args(request),
                                encoded=True), request)

    @api("GET", f"{V1}/catalogue/<string:registration_id>", "One catalogue entry",
         tags=["matching"], response=matching.CatalogueEntrySchema, errors=(401, 403, 404),
         links=ENTRY_LINKS)
    def get_catalogue_entry(self, request: Request, registration_id: str) -> Response:
        return json_response(self._call(request, "matching", "get_catalogue_entry",
                                        registration_id))

    @api("GET", f"{V1}/alumni", "The alumni directory: organisations with a completed exchange "
         "that chose to appear, by sector and country", tags=["matching"],
         query=matching.AlumniQuerySchema, response=matching.CatalogueEntrySchema, many=True,
         errors=(401, 403, 422))
    def list_alumni(self, request: Request) -> Response:
        return paged(self._call(request, "matching", "list_alumni", query_args(request)), request)

    @api("GET", f"{V1}/matches",
         "Best matches for a registration: a 0-100 score, its contributions, what fits and what does not",
         tags=["matching"], query=matching.MatchQuerySchema, response=matching.MatchSchema,
         many=True, errors=(401, 403, 404, 422))
    def get_matches(self, request: Request) -> Response:
        return paged(self._call(request, "matching", "get_matches", query_args(request),
                                encoded=True), request)

    @api("GET", f"{V1}/contacts", "Your contact requests, sent and received", tags=["contacts"],
         query=matching.ContactListQuerySchema, response=matching.ContactSchema, many=True,
         errors=(401, 422))
    def list_contacts(self, request: Request) -> Response:
        return paged(self._call(request, "matching", "list_contacts", query_args(request)),
                     request)

    @api("POST", f"{V1}/contacts", "Ask another participant for contact, with a message",
         tags=["contacts"], body=matching.CreateContactSchema, response=matching.ContactSchema,
         status=201, errors=(401, 403, 404, 409, 422), links=CONTACT_LINKS, location=True,
         idempotent=True)
    def create_contact(self, request: Request) -> Response:
        contact = self._call(request, "matching", "create_contact", json_body(request))
        return json_response(contact, 201, {"Location": f"{V1}/contacts/{contact['id']}"})

    @api("GET", CONTACT, "One contact request", tags=["contacts"],
         response=matching.ContactSchema, errors=(401, 404), links=CONTACT_LINKS)
    def get_contact(self, request: Request, contact_id: str) -> Response:
        return json_response(self._call(request, "matching", "get_contact", contact_id))

    @api("POST", f"{CONTACT}/accept", "Accept a contact request you received", tags=["contacts"],
         response=matching.ContactSchema, errors=(401, 403, 404, 409))
    def accept_contact(self, request: Request, contact_id: str) -> Response:
        return json_response(self._call(request, "matching", "answer_contact", contact_id, True))

    @api("POST", f"{CONTACT}/decline", "Decline a contact request you received",
         tags=["contacts"], response=matching.ContactSchema, errors=(401, 403, 404, 409))
    def decline_contact(self, request: Request, contact_id: str) -> Response:
        return json_response(self._call(request, "matching", "answer_contact", contact_id, False))

    @api("GET", f"{CONTACT}/messages", "Messages of an accepted contact", tags=["contacts"],
         query=matching.ContactListQuerySchema, response=matching.MessageSchema, many=True,
         errors=(401, 404))
    def list_messages(self, request: Request, contact_id: str) -> Response:
        return paged(self._call(request, "matching", "list_messages", contact_id,
                                query_args(request)), request)

    @api("POST", f"{CONTACT}/messages", "Write in an accepted contact's conversation",
         tags=["contacts"], body=matching.CreateMessageSchema, response=matching.MessageSchema,
         status=201, errors=(401, 404, 409, 422), links=MESSAGE_LINKS, location=True,
         idempotent=True)
    def post_message(self, request: Request, contact_id: str) -> Response:
        message = self._call(request, "matching", "post_message", contact_id, json_body(request))
        return json_response(message, 201, {
            "Location": f"{V1}/contacts/{message['contact_id']}/messages/{message['id']}"})

    @api("GET", f"{CONTACT}/messages/<string:message_id>", "One message of a contact",
         tags=["contacts"], response=matching.MessageSchema, errors=(401, 404))
    def get_message(self, request: Request, contact_id: str, message_id: str) -> Response:
        return json_response(self._call(request, "matching", "get_message", contact_id,
                                        message_id))
