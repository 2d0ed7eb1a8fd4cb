"""The support desk: queries from signed-in participants or from anyone with an email, answered
by support agents (role `support_agent`; administrators too).

Who may see a query: a support agent; its requester (the account that sent it, or whoever
holds one of the single-purpose tokens emailed to an anonymous requester). Anyone else gets
404, as if it did not exist. Nothing about a query goes into an event.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from common.auth import Caller
from common.db import utcnow
from common.entrypoints import rpc
from common.errors import InvalidState, NotAllowed, NotFound, StaleVersion, Unauthorized, ValidationFailed
from common.idempotency import ANONYMOUS
from common.schemas import load, page_of
from services.notifications import support_schemas as ss
from services.notifications.notices import Person, notice_id, tell
from services.notifications.support_models import (
    SupportAccessToken,
    SupportMessage,
    SupportQuery,
)

AGENT_ROLES = ("support_agent", "admin")
SCREENSHOT_TYPES = frozenset({"image/png", "image/jpeg"})
OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
REQUESTER, SUPPORT = "requester", "support"

_create = ss.CreateSupportQuerySchema()
_reply = ss.ReplySchema()
_list_query = ss.SupportQueryListQuerySchema()
_query = ss.SupportQuerySchema()

DEFAULT_SUPPORT = {"mailbox": "support@clusterxchange.eu", "token_days": 30,
                   "screenshot_max_bytes": 5 * 1024 * 1024, "slot_weeks": 4}


def support_settings(config: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULT_SUPPORT, **(config.get("SUPPORT") or {})}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_reference(at: datetime) -> str:
    return f"SUP-{at.year}-{secrets.token_hex(4).upper()}"


def is_agent(caller: Caller | None) -> bool:
    return caller is not None and caller.has(*AGENT_ROLES)


def query_view(query: SupportQuery, messages: list[SupportMessage], agent: bool) -> dict[str, Any]:
    screenshot = None
    if query.screenshot_key:
        screenshot = {"content_type": query.screenshot_type, "size": query.screenshot_size,
                      "sha256": query.screenshot_sha256}
    return _query.dump({
        "id": query.id, "reference": query.reference, "status": query.status,
        "participant_status": query.participant_status, "subject": query.subject, "text": query.text,
        "exchange_reference": query.exchange_reference, "browser_brand": query.browser_brand,
        "browser_version": query.browser_version, "signed_in": query.requester_account_id is not None,
        "requester_email": query.requester_email if agent or query.requester_account_id is None else None,
        "screenshot": screenshot,
        "messages": [{"id": m.id, "author": m.author, "text": m.text, "created_at": m.created_at}
                     for m in messages],
        "created_at": query.created_at, "updated_at": query.updated_at, "closed_at": query.closed_at,
        "version": query.version})


def check_screenshot(screenshot: dict[str, Any] | None, max_bytes: int) -> dict[str, Any] | None:
    """The gateway sniffed and stored it; what it says about it is checked again here."""
    if not screenshot:
        return None
    if screenshot.get("content_type") not in SCREENSHOT_TYPES or not screenshot.get("key"):
        raise ValidationFailed("The screenshot is not a PNG or JPEG image.",
                               {"screenshot": ["Send a PNG or JPEG image."]})
    if not 0 < int(screenshot.get("size") or 0) <= max_bytes:
        raise ValidationFailed("The screenshot is too large.",
                               {"screenshot": [f"At most {max_bytes} bytes."]})
    return screenshot


class SupportDesk:
    def _optional_caller(self) -> Caller | None:
        return self.auth.caller if self.auth.authenticated else None

    def _support(self) -> dict[str, Any]:
        return support_settings(self.config)

    # --- reading ------------------------------------------------------------------------

    def _visible_query(self, session: Session | Any, query_id: str, access_token: str | None,
                       for_update: bool = False) -> tuple[SupportQuery, bool]:
        """The query and whether the caller is an agent; 404 for anyone else."""
        caller = self._optional_caller()
        statement = select(SupportQuery).where(SupportQuery.id == str(query_id))
        if for_update:
            statement = statement.with_for_update()
        query = session.scalars(statement).first()
        if query is None:
            raise NotFound("No such support query.")
        if is_agent(caller):
            return query, True
        if caller is not None and query.requester_account_id == caller.account_id:
            return query, False
        if caller is None and access_token and query.requester_account_id is None:
            found = session.get(SupportAccessToken, token_hash(access_token))
            if found is not None and found.query_id == query.id and found.expires_at > utcnow():
                return query, False
        if caller is None and not access_token:
            raise Unauthorized("Sign in, or use the link we emailed you.")
        raise NotFound("No such support query.")

    def _messages(self, session: Session, query_id: str) -> list[SupportMessage]:
        return list(session.scalars(select(SupportMessage).where(SupportMessage.query_id == query_id)
                                    .order_by(SupportMessage.created_at, SupportMessage.id)))

    @rpc
    def get_support_query(self, query_id: str, access_token: str | None = None) -> dict[str, Any]:
        session = self.db.session
        query, agent = self._visible_query(session, query_id, access_token)
        view = query_view(query, self._messages(session, query.id), agent)
        session.rollback()
        return view

    @rpc
    def support_screenshot(self, query_id: str, access_token: str | None = None) -> dict[str, Any]:
        session = self.db.session
        query, _agent = self._visible_query(session, query_id, access_token)
        session.rollback()
        if not query.screenshot_key:
            raise NotFound("This query has no screenshot.")
        return {"key": query.screenshot_key, "content_type": query.screenshot_type,
                "sha256": query.screenshot_sha256, "reference": query.reference}

    @rpc
    def list_support_queries(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        data = load(_list_query, query or {})
        where = []
        if not is_agent(caller):
            caller.require("participant")
            where.append(SupportQuery.requester_account_id == caller.account_id)
        if data.get("status"):
            where.append(SupportQuery.status == data["status"])
        if data.get("participant_status"):
            where.append(SupportQuery.participant_status == data["participant_status"])
        if data.get("text"):
            pattern = "%" + data["text"].lower().replace("\\", "\\\\").replace("%", "\\%") \
                .replace("_", "\\_") + "%"
            where.append(or_(func.lower(SupportQuery.subject).like(pattern, escape="\\"),
                             func.lower(SupportQuery.text).like(pattern, escape="\\")))
        session = self.db.session
        total = session.scalar(select(func.count()).select_from(SupportQuery).where(*where)) or 0
        rows = session.scalars(select(SupportQuery).where(*where)
                               .order_by(SupportQuery.updated_at.desc(), SupportQuery.id)
                               .limit(data["per_page"]).offset((data["page"] - 1) * data["per_page"])).all()
        agent = is_agent(caller)
        items = [query_view(row, [], agent) for row in rows]
        session.rollback()
        return page_of(items, int(total), data["page"], data["per_page"])

    # --- writing ------------------------------------------------------------------------

    @rpc
    def create_support_query(self, payload: dict[str, Any], screenshot: dict[str, Any] | None = None,
                             idempotency_key: str | None = None) -> dict[str, Any]:
        caller = self._optional_caller()
        if caller is not None and not caller.has("participant"):
            raise NotAllowed("Queries are sent by participants, or by anyone without signing in.")
        data = load(_create, payload or {})
        if caller is None and not data.get("email"):
            raise ValidationFailed("Say where to answer.", {"email": ["Required without a sign-in."]})
        settings = self._support()
        picture = check_screenshot(screenshot, int(settings["screenshot_max_bytes"]))
        session = self.db.session
        scope = caller.account_id if caller else ANONYMOUS + ":" + data.get("email", "").lower()[:50]

        def create() -> dict[str, Any]:
            now = utcnow()
            query = SupportQuery(
                reference=new_reference(now), participant_status=data["participant_status"],
                requester_account_id=caller.account_id if caller else None,
                requester_email=None if caller else data["email"],
                requester_name=None if caller else data.get("name"),
                subject=data["subject"].strip(), text=data["text"],
                exchange_reference=data.get("exchange_reference"),
                browser_brand=data.get("browser_brand"), browser_version=data.get("browser_version"),
                status=OPEN, created_at=now, updated_at=now)
            if picture:
                query.screenshot_key, query.screenshot_type = picture["key"], picture["content_type"]
                query.screenshot_size, query.screenshot_sha256 = int(picture["size"]), picture.get("sha256")
            session.add(query)
            session.flush()
            self._tell_requester(session, query, "support_query_received", notice_id(query.id, "received"),
                                 {})
            self._tell_support_office(session, query, notice_id(query.id, "new"), is_new=True)
            return query_view(query, [], False)

        return self.idempotency.run(session, idempotency_key, scope, "create_support_query",
                                    [payload, screenshot], create)

    @rpc
    def reply_support_query(self, query_id: str, payload: dict[str, Any],
                            access_token: str | None = None,
                            idempotency_key: str | None = None) -> dict[str, Any]:
        """An agent's answer (the requester is told) or the requester's reply (which opens
        the query again and tells the support office)."""
        data = load(_reply, payload or {})
        session = self.db.session
        query, agent = self._visible_query(session, query_id, access_token, for_update=True)
        caller = self._optional_caller()
        scope = caller.account_id if caller else ANONYMOUS + ":" + query.id

        def reply() -> dict[str, Any]:
            now = utcnow()
            message = SupportMessage(query_id=query.id, author=SUPPORT if agent else REQUESTER,
                                     author_account_id=caller.account_id if caller else None,
                                     text=data["text"], created_at=now)
            session.add(message)
            query.status = ANSWERED if agent else OPEN
            query.updated_at, query.closed_at = now, None
            self._flush()
            if agent:
                self._tell_requester(session, query, "support_query_answered",
                                     notice_id(message.id, "answer"), {"answer": data["text"]})
            else:
                self._tell_support_office(session, query, notice_id(message.id, "reply"), is_new=False)
            return query_view(query, self._messages(session, query.id), agent)

        return self.idempotency.run(session, idempotency_key, scope, "reply_support_query",
                                    [query_id, payload], reply)

    @rpc
    def close_support_query(self, query_id: str) -> dict[str, Any]:
        session = self.db.session
        query, agent = self._visible_query(session, query_id, None, for_update=True)
        if not agent:
            raise NotAllowed("Support agents close queries; reply if you still need help.")
        if query.status == CLOSED:
            raise InvalidState("This query is closed already.")
        now = utcnow()
        query.status, query.closed_at, query.updated_at = CLOSED, now, now
        self._flush()
        view = query_view(query, self._messages(session, query.id), True)
        session.commit()
        return view

    def _flush(self) -> None:
        try:
            self.db.session.flush()
        except StaleDataError as exc:
            raise StaleVersion("Someone else changed this query; reload it.") from exc

    # --- telling people -----------------------------------------------------------------

    def _tell_requester(self, session: Session, query: SupportQuery, kind: str, notice: str,
                        extra: dict[str, Any]) -> None:
        settings = self.config["NOTIFICATIONS"]
        context = {"query_reference": query.reference, "query_subject": query.subject, **extra}
        if query.requester_account_id:
            person = self._account_person(query.requester_account_id, "requester")
            tell(session, settings, kind=kind, notice=notice, people=[person], context=context,
                 link=f"/support/queries/{query.id}", reference=query.reference)
            return
        token = secrets.token_urlsafe(32)
        days = float(self._support()["token_days"])
        session.add(SupportAccessToken(token_hash=token_hash(token), query_id=query.id,
                                       expires_at=utcnow() + timedelta(days=days)))
        url = f"{settings['public_base_url']}/support/queries/{query.id}?token={token}"
        tell(session, settings, kind=kind, notice=notice, sensitive=True,
             people=[Person("anonymous_requester", query.requester_email or "", None,
                            query.requester_name or "")],
             context={**context, "action_url": url}, reference=query.reference)

    def _tell_support_office(self, session: Session, query: SupportQuery, notice: str,
                             is_new: bool) -> None:
        mailbox = self._support()["mailbox"]
        if not mailbox:
            return
        tell(session, self.config["NOTIFICATIONS"], kind="support_query_updated", notice=notice,
             people=[Person("support_office", mailbox, None, "Support office")],
             context={"query_reference": query.reference, "query_subject": query.subject,
                      "is_new": is_new}, link=f"/support/queries/{query.id}", reference=query.reference)

    def _account_person(self, account_id: str, role: str) -> Person:
        directory = self.rpc_client.call("registration", "notification_recipients",
                                         {"account_ids": [account_id], "registration_ids": [],
                                          "partnership_ids": []}, auth_token=self.identity.token)
        found = (directory.get("accounts") or {}).get(account_id) or {}
        return Person(role, found.get("email") or "", account_id, found.get("name") or "")
