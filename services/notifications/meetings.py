"""Bilateral meetings with the support office: the slots (services.notifications.slots) with
their availability, booking, cancelling, and the agenda for support agents.

A slot is never booked twice: the partial unique index on `slot_start` among booked meetings
refuses the second of two concurrent inserts, which becomes a 409. Both sides hear of a
booking and of a cancellation (the participant by inbox and email, the support office at
its mailbox, SUPPORT_MAILBOX).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.db import is_postgres, utcnow
from common.entrypoints import rpc
from common.errors import Conflict, InvalidState, NotAllowed, NotFound, ValidationFailed
from common.schemas import load, page_of
from services.notifications import slots
from services.notifications import support_schemas as ss
from services.notifications.notices import Person, notice_id, tell
from services.notifications.support_desk import is_agent, support_settings
from services.notifications.support_models import Meeting, SupportQuery

BOOKED, CANCELLED = "booked", "cancelled"

_slot_query = ss.SlotQuerySchema()
_book = ss.BookMeetingSchema()
_meeting = ss.MeetingSchema()
_list_query = ss.MeetingListQuerySchema()


def meeting_view(meeting: Meeting) -> dict[str, Any]:
    slot = slots.Slot(meeting.slot_start, meeting.slot_end).view(meeting.status == BOOKED)
    slot.pop("available")
    return _meeting.dump({**slot, "id": meeting.id, "status": meeting.status,
                          "account_id": meeting.account_id, "query_id": meeting.query_id,
                          "exchange_reference": meeting.exchange_reference, "topic": meeting.topic,
                          "cancelled_by": meeting.cancelled_by, "created_at": meeting.created_at,
                          "cancelled_at": meeting.cancelled_at})


class Meetings:
    @rpc
    def list_support_slots(self, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.auth.caller  # noqa: B018 - signed-in people only
        data = load(_slot_query, query or {})
        weeks = int(data.get("weeks") or support_settings(self.config)["slot_weeks"])
        now = utcnow()
        found = slots.upcoming(now, weeks)
        if not found:
            return []
        taken = set(self.db.reader.scalars(select(Meeting.slot_start).where(
            Meeting.status == BOOKED, Meeting.slot_start >= found[0].start,
            Meeting.slot_start <= found[-1].start)))
        taken = {moment.astimezone(slots.UTC) for moment in taken}
        return [slot.view(slot.start not in taken) for slot in found]

    @rpc
    def book_meeting(self, payload: dict[str, Any],
                     idempotency_key: str | None = None) -> dict[str, Any]:
        caller = self.auth.caller
        caller.require("participant")
        data = load(_book, payload or {})
        now = utcnow()
        slot = slots.slot_at(data["start"])
        if slot is None:
            raise ValidationFailed("No slot starts then.", {"start": [
                "Pick a slot from /support/slots: 30 minutes, Monday to Friday, 10:00 to 14:00 "
                "Brussels time, on Belgian working days."]})
        weeks = int(support_settings(self.config)["slot_weeks"])
        horizon = now + timedelta(days=7 * weeks + 1)
        if slot.start <= now or slot.start > horizon:
            raise ValidationFailed("That slot cannot be booked.", {"start": [
                f"Pick a slot still to come, within the next {weeks} weeks."]})
        session = self.db.session
        if data.get("query_id"):
            owner = session.scalar(select(SupportQuery.requester_account_id)
                                   .where(SupportQuery.id == data["query_id"]))
            if owner != caller.account_id:
                raise ValidationFailed("No such query of yours.", {"query_id": ["Not one of your queries."]})

        def book() -> dict[str, Any]:
            if is_postgres(session):
                # One participant's bookings one at a time, so two of them at once cannot both
                # pass the one-upcoming-meeting check.
                session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:who))"),
                                {"who": f"support-meeting:{caller.account_id}"})
            upcoming = session.scalar(select(func.count()).select_from(Meeting).where(
                Meeting.account_id == caller.account_id, Meeting.status == BOOKED,
                Meeting.slot_start > now))
            if upcoming:
                raise InvalidState("You have a meeting booked already; cancel it to book another.")
            meeting = Meeting(slot_start=slot.start, slot_end=slot.end, account_id=caller.account_id,
                              query_id=data.get("query_id"),
                              exchange_reference=data.get("exchange_reference"),
                              topic=data.get("topic"), status=BOOKED, created_at=now)
            session.add(meeting)
            try:
                session.flush()
            except IntegrityError as exc:
                session.rollback()
                raise Conflict("Someone else booked this slot a moment ago; pick another.") from exc
            self._tell_both(session, meeting, "support_meeting_booked", notice_id(meeting.id, "booked"))
            return meeting_view(meeting)

        try:
            return self.idempotency.run(session, idempotency_key, caller.account_id, "book_meeting",
                                        [payload], book)
        except IntegrityError as exc:  # the twin committed between our flush and commit
            session.rollback()
            raise Conflict("Someone else booked this slot a moment ago; pick another.") from exc

    @rpc
    def get_meeting(self, meeting_id: str) -> dict[str, Any]:
        caller = self.auth.caller
        meeting = self.db.session.get(Meeting, str(meeting_id))
        if meeting is None or not (is_agent(caller) or meeting.account_id == caller.account_id):
            raise NotFound("No such meeting.")
        view = meeting_view(meeting)
        self.db.session.rollback()
        return view

    @rpc
    def cancel_meeting(self, meeting_id: str) -> dict[str, Any]:
        caller = self.auth.caller
        session = self.db.session
        meeting = session.scalars(select(Meeting).where(Meeting.id == str(meeting_id))
                                  .with_for_update()).first()
        agent = is_agent(caller)
        if meeting is None or not (agent or meeting.account_id == caller.account_id):
            raise NotFound("No such meeting.")
        if not agent and not caller.has("participant"):
            raise NotAllowed("Your role may not do this.")
        if meeting.status != BOOKED:
            raise InvalidState("This meeting is cancelled already.")
        now = utcnow()
        if meeting.slot_start <= now:
            raise InvalidState("This meeting has started or is over.")
        meeting.status, meeting.cancelled_at = CANCELLED, now
        meeting.cancelled_by = "support" if agent else "participant"
        session.flush()
        self._tell_both(session, meeting, "support_meeting_cancelled", notice_id(meeting.id, "cancelled"))
        view = meeting_view(meeting)
        session.commit()
        return view

    @rpc
    def list_meetings(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Support agents: the agenda (everyone's); a participant: their own."""
        caller = self.auth.caller
        data = load(_list_query, query or {})
        where = []
        if not is_agent(caller):
            caller.require("participant")
            where.append(Meeting.account_id == caller.account_id)
        if data.get("status"):
            where.append(Meeting.status == data["status"])
        if data.get("upcoming"):
            where.append(Meeting.slot_start > utcnow())
        session = self.db.session
        total = session.scalar(select(func.count()).select_from(Meeting).where(*where)) or 0
        rows = session.scalars(select(Meeting).where(*where).order_by(Meeting.slot_start, Meeting.id)
                               .limit(data["per_page"]).offset((data["page"] - 1) * data["per_page"])).all()
        items = [meeting_view(row) for row in rows]
        session.rollback()
        return page_of(items, int(total), data["page"], data["per_page"])

    def _tell_both(self, session: Session, meeting: Meeting, kind: str, notice: str) -> None:
        local = meeting.slot_start.astimezone(slots.BRUSSELS)
        query_reference = None
        if meeting.query_id:
            query_reference = session.scalar(select(SupportQuery.reference)
                                             .where(SupportQuery.id == meeting.query_id))
        context = {"local_start": local.strftime("%A %d %B %Y, %H:%M"),
                   "local_start_at": local.isoformat(),  # for the languages other than English
                   "utc_start": slots.iso_utc(meeting.slot_start),
                   "exchange_reference": meeting.exchange_reference, "query_reference": query_reference,
                   "cancelled_by": meeting.cancelled_by}
        people = [self._account_person(meeting.account_id, "participant")]
        mailbox = support_settings(self.config)["mailbox"]
        if mailbox:
            people.append(Person("support_office", mailbox, None, "Support office"))
        tell(session, self.config["NOTIFICATIONS"], kind=kind, notice=notice, people=people,
             context=context, link="/support/meetings")
