"""Flask commands: thin wrappers over the services."""
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal import search, uow
from portal.content import load_content
from portal.exceptions import ValidationFailed
from portal.library.alerts import send_alerts
from portal.members.services import create_admin

content_cli = AppGroup("content", help="Load the site's default content.")
members_cli = AppGroup("members", help="Manage member accounts.")
search_cli = AppGroup("search", help="The search index: rebuild, sync, check.")
alerts_cli = AppGroup("alerts", help="New-resource alerts.")


@content_cli.command("load")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def content_load(folder):
    """Load FOLDER (default: content/) through the services; running it twice changes nothing."""
    folder = folder or Path(current_app.config["CONTENT_DIR"])
    try:
        report = load_content(folder)
    except ValidationFailed as error:
        raise click.ClickException(error.message) from error
    if not report.errors:
        click.echo(f"{len(report.created_or_updated)} created or updated, {len(report.unchanged)} unchanged.")
    for path in report.created_or_updated:
        click.echo(f"  saved {path}")
    if report.errors:
        for message in report.errors:
            click.echo(f"  error: {message}", err=True)
        raise click.ClickException("The file named above could not be loaded, so nothing was saved: fix it and load again.")


@members_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default="Administrator", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def members_create_admin(email, name, password_stdin):
    """Make EMAIL an admin (creating the account if needed)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with uow.unit_of_work():
            member = create_admin(email=email, password=password, name=name)
    except ValidationFailed as error:
        raise click.ClickException(error.message) from error
    click.echo(f"{member.email} is an admin.")


def _index_call(function, label: str, length: int):
    try:
        with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
            return function(bar.update)
    except search.SearchUnavailable as error:
        raise click.ClickException(f"{error}; try again when it is free.") from error


@search_cli.command("rebuild")
def search_rebuild():
    """Recreate the index from the database (readers keep the old one until it is done)."""
    count = _index_call(search.rebuild, "Indexing resources", search.published_count())
    click.echo(f"Indexed {count} published resources.")


@search_cli.command("sync")
def search_sync():
    """Bring a stale or partly written index up to date from the database."""
    before = search.compare()
    report = _index_call(lambda progress: search.sync(progress), "Updating the index",
                         len(before.missing) + len(before.stale))
    click.echo(f"Added {len(report.missing)}, updated {len(report.stale)}, removed {len(report.orphaned)}.")


@search_cli.command("check")
def search_check():
    """Compare the index with the database; exit status 1 when they differ."""
    report = search.compare()
    for name in ("missing", "stale", "orphaned"):
        ids = getattr(report, name)
        click.echo(f"{name}: {len(ids)}" + (f" (ids {', '.join(map(str, ids[:20]))}{' …' if len(ids) > 20 else ''})"
                                             if ids else ""))
    if not report.ok:
        raise click.ClickException("The index differs from the database: run `flask search sync`.")
    click.echo("The index matches the database.")


@alerts_cli.command("send")
def alerts_send():
    """Mail due new-resource digests; an item is never sent to the same member twice."""
    sent = send_alerts()
    click.echo(f"Sent {sent} digest{'' if sent == 1 else 's'}.")


def register_cli(app: Flask) -> None:
    for group in (content_cli, members_cli, search_cli, alerts_cli):
        app.cli.add_command(group)
