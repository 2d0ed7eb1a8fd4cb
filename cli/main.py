"""`cxc`: operate the platform (migrate, seed, accounts, keys)."""

from __future__ import annotations

import click
from sqlalchemy import select

from common.config import SERVICES, build_config
from common.db import make_engine


def _session(service: str):
    from sqlalchemy.orm import Session

    config = build_config()
    return Session(make_engine(config["DATABASE_URLS"][service]), expire_on_commit=False)


@click.group()
def cli() -> None:
    """ClusterXchange operations."""


@cli.command()
@click.option("--declare/--no-declare", default=True,
              help="Also declare event exchanges and subscriber queues on RabbitMQ.")
def migrate(declare: bool) -> None:
    """Bring every service's database to the newest schema; make signing keys if none."""
    from cli.broker import broker_reachable
    from common.auth import Keyring
    from common.events import EVENTS_BY_SOURCE
    from common.migrate import upgrade
    from common.outbox import IncompatibleQueue, declare_topology
    from common.service_identity import service_secret
    from services.agreements.keys import ensure_local_keys

    config = build_config()
    for service in SERVICES:
        upgrade(service, config["DATABASE_URLS"][service])
        click.echo(f"{service}: schema up to date")
    Keyring.load(config["JWT"]["keys_dir"], generate=True)
    ensure_local_keys(config["AGREEMENTS"])
    for service in SERVICES:
        if service != "registration":  # it signs tokens; it needs none for itself
            service_secret(config, service)  # a local secret file when none is configured
    if declare and broker_reachable(config["AMQP_URI"]):
        for source in EVENTS_BY_SOURCE:
            try:
                declare_topology(config["AMQP_URI"], source)
            except IncompatibleQueue as exc:
                raise click.ClickException(str(exc)) from exc
        click.echo("event exchanges, subscriber (quorum) queues and parking queues declared")


@cli.command()
@click.option("--demo", is_flag=True, help="Add a demo set: contact points and participants.")
def seed(demo: bool) -> None:
    """Load reference data (countries, partnerships, lump sums); safe to run again."""
    from services.registration.repository import seed_reference

    with _session("registration") as session:
        counts = seed_reference(session)
        session.commit()
    click.echo(f"reference data: {counts['countries']} new countries, "
               f"{counts['partnerships']} new partnerships")
    from services.payments.lump_sums import shipped_table
    from services.payments.repository import seed_rates

    with _session("payments") as session:
        added = seed_rates(session, shipped_table(build_config()["PAYMENTS"]["threshold_cents"]))
        session.commit()
    click.echo(f"lump-sum table: {added} new figures (figures changed since are kept)")
    if demo:
        from cli.demo import seed_demo

        with _session("registration") as session:
            for line in seed_demo(session):
                click.echo(line)
            session.commit()


@cli.command("create-account")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True,
              confirmation_prompt=True)
@click.option("--name", "full_name", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["participant", "partnership_contact", "support_agent", "admin",
                                 "backoffice"]))
@click.option("--partnership", "partnership_code", help="Partnership code, for contact points.")
def create_account(email: str, password: str, full_name: str, roles: tuple[str, ...],
                   partnership_code: str | None) -> None:
    """Create an account with any role (contact points, agents, administrators)."""
    from services.registration.models import Partnership
    from services.registration.repository import create_account as create

    if len(password) < 12:
        raise click.BadParameter("at least 12 characters", param_hint="--password")
    with _session("registration") as session:
        partnership_id = None
        if partnership_code:
            partnership = session.scalar(select(Partnership).where(
                Partnership.code == partnership_code))
            if partnership is None:
                raise click.BadParameter(f"no partnership {partnership_code}",
                                         param_hint="--partnership")
            partnership_id = partnership.id
        if "partnership_contact" in roles and partnership_id is None:
            raise click.BadParameter("a contact point needs --partnership")
        account = create(session, email, password, full_name, list(roles), partnership_id)
        session.commit()
        click.echo(f"created {account.email} ({', '.join(account.roles)}) id={account.id}")


@cli.command("rebuild-catalogue")
def rebuild_catalogue() -> None:
    """Rebuild matching's catalogue by replaying every accepted registration (needs the
    services running and the signing keys)."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from common.auth import TokenService

    config = build_config()
    token, _ = TokenService(config["JWT"], generate=False).issue("system:cli", ["admin"], None, None)
    with ClusterRpcProxy(config, context_data={"auth_token": token}, timeout=600) as rpc:
        result = rpc.matching.rebuild_catalogue()
    click.echo(f"catalogue rebuilt: {result['listed']} listed, {result['removed']} removed")


@cli.group()
def events() -> None:
    """Parked events: those a handler failed on DELIVERY_LIMIT times."""


def _services(service: tuple[str, ...]) -> list[str]:
    """The services named, or every service that consumes events."""
    from common.events import consuming_services

    return list(service) or consuming_services()


@events.command("parked")
@click.option("--service", multiple=True, help="Only this consuming service (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def events_parked(service: tuple[str, ...], as_json: bool) -> None:
    """List parked events (they stay parked)."""
    import json

    from common.parking import list_parked

    found = list_parked(build_config()["AMQP_URI"], _services(service))
    for event in found:
        if as_json:
            click.echo(json.dumps(event.to_dict()))
        else:
            when = event.parked_at.isoformat() if event.parked_at else "-"
            click.echo(f"{event.event_id}  {event.event_type}  {event.service}  queue={event.queue}  "
                       f"reason={event.reason}  parked={when}  count={event.count}")
    if not as_json:
        click.echo(f"{len(found)} parked event(s)")


@events.command("replay")
@click.option("--id", "event_ids", multiple=True, help="The event id to replay (repeatable).")
@click.option("--all", "replay_all", is_flag=True, help="Replay every parked event.")
@click.option("--service", multiple=True, help="Only this consuming service (repeatable).")
def events_replay(event_ids: tuple[str, ...], replay_all: bool, service: tuple[str, ...]) -> None:
    """Put parked events back on the queue they came from (fix the handler first)."""
    from common.parking import replay

    if bool(event_ids) == replay_all:
        raise click.UsageError("say which events: --id EVENT_ID (repeatable) or --all")
    done = replay(build_config()["AMQP_URI"], _services(service),
                  None if replay_all else event_ids)
    for event in done:
        click.echo(f"replayed {event.event_id} ({event.event_type}) to {event.queue}")
    missing = set(event_ids) - {event.event_id for event in done}
    if missing:
        raise click.ClickException(f"not parked: {', '.join(sorted(missing))}")
    click.echo(f"{len(done)} event(s) replayed")


@cli.group()
def emails() -> None:
    """The notifications email queue: what failed, and sending it again."""


@emails.command("list")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "failed"]),
              default="failed", show_default=True)
@click.option("--limit", default=100, show_default=True)
def emails_list(status: str, limit: int) -> None:
    """Queued emails in one state, oldest first (address, attempts, last error)."""
    from services.notifications.models import EmailMessage

    with _session("notifications") as session:
        rows = session.scalars(select(EmailMessage).where(EmailMessage.status == status)
                               .order_by(EmailMessage.id).limit(limit)).all()
        for row in rows:
            click.echo(f"{row.id}  {row.event_type}  to={row.to_address}  attempts={row.attempts}  "
                       f"created={row.created_at.isoformat()}  error={row.last_error or '-'}")
    click.echo(f"{len(rows)} {status} email(s)")


@emails.command("retry")
@click.option("--id", "ids", multiple=True, type=int, help="A failed email's id (repeatable).")
@click.option("--all-failed", is_flag=True, help="Every failed email.")
def emails_retry(ids: tuple[int, ...], all_failed: bool) -> None:
    """Send failed emails again (after fixing the mail server or the address): back to
    pending with a fresh count of attempts. Account emails are sent as they were queued."""
    from sqlalchemy import update

    from common.db import utcnow
    from services.notifications.models import EmailMessage

    if bool(ids) == all_failed:
        raise click.UsageError("say which: --id ID (repeatable) or --all-failed")
    where = [EmailMessage.status == "failed"]
    if ids:
        where.append(EmailMessage.id.in_(ids))
    with _session("notifications") as session:
        count = session.execute(update(EmailMessage).where(*where).values(
            status="pending", attempts=0, next_attempt_at=utcnow(), last_error=None)).rowcount
        session.commit()
    click.echo(f"{count} email(s) queued again")


@cli.command("rotate-keys")
def rotate_keys() -> None:
    """Add a new token signing key; old keys still verify until you delete them."""
    from common.auth import generate_key

    kid = generate_key(build_config()["JWT"]["keys_dir"])
    click.echo(f"new signing key {kid}; restart registration to sign with it")


if __name__ == "__main__":
    cli()
