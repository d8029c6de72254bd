"""Flask commands: thin wrappers over the services."""
import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from portal import mail, queue, search, uow
from portal.calls import mapping as calls_mapping
from portal.calls import rules as calls_rules
from portal.calls import services as calls_services
from portal.content import load_content
from portal.events.reminders import send_due_reminders
from portal.exceptions import ValidationFailed
from portal.jurisdictions import metrics
from portal.jurisdictions.services import get_jurisdiction, list_jurisdictions
from portal.library.alerts import send_alerts
from portal.members.services import create_admin

content_cli = AppGroup("content", help="Load the site's default content.")
members_cli = AppGroup("members", help="Manage member accounts.")
search_cli = AppGroup("search", help="The search index: rebuild, sync, check.")
alerts_cli = AppGroup("alerts", help="New-resource alerts.")
events_cli = AppGroup("events", help="Webinars: reminders.")
jurisdictions_cli = AppGroup("jurisdictions", help="Jurisdictions: metric imports and the stored headlines.")


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
    count = _index_call(search.rebuild, "Indexing", search.expected_count())
    click.echo(f"Indexed {count} document{'' if count == 1 else 's'}.")


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
        click.echo(f"{name}: {len(ids)}" + (f" ({', '.join(map(str, ids[:20]))}{' …' if len(ids) > 20 else ''})"
                                             if ids else ""))
    if not report.ok:
        raise click.ClickException("The index differs from the database: run `flask search sync`.")
    click.echo("The index matches the database.")


@alerts_cli.command("send")
def alerts_send():
    """Mail due new-resource digests; an item is never sent to the same member twice."""
    sent = send_alerts()
    click.echo(f"Sent {sent} digest{'' if sent == 1 else 's'}.")


class InstantType(click.ParamType):
    """An ISO 8601 date and time; without an offset it is taken as UTC."""

    name = "instant"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date and time, like 2027-03-14T15:00:00+00:00.", param, ctx)
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


@events_cli.command("remind")
@click.option("--now", type=InstantType(), default=None,
              help="Send what is due at this time instead of the current one (ISO 8601; UTC without an offset).")
def events_remind(now):
    """Mail the webinar reminders due 24 hours and 1 hour before each start; each goes out once, however
    often (or in however many processes at once) this runs."""
    sent = send_due_reminders(now)
    click.echo(f"Sent {sent} reminder{'' if sent == 1 else 's'}.")


@click.command("worker")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Tasks run at the same time.")
@click.option("--no-periodic", "periodic", flag_value=False, default=True,
              help="Leave the scheduled jobs (alerts, search sync) to another worker.")
@with_appcontext
def worker(threads, periodic):
    """Run a task-queue consumer: mail, background jobs and the scheduled ones. Ctrl-C (SIGINT) stops it
    after the tasks it is running."""
    task_queue = queue.current_queue()
    if task_queue.immediate:
        raise click.ClickException("QUEUE_IMMEDIATE is set: tasks run in the web process, there is nothing to consume.")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    where = "Redis" if current_app.config["REDIS_URL"] else current_app.config["QUEUE_SQLITE_PATH"]
    click.echo(f"Worker: {threads} thread{'' if threads == 1 else 's'}, jobs kept in {where}"
               f"{', running the scheduled jobs' if periodic else ''}.", err=True)
    deleted = calls_services.clean_stale_files()
    if deleted:
        click.echo(f"Deleted {deleted} dispatch file{'' if deleted == 1 else 's'} left by an earlier run.", err=True)
    task_queue.create_consumer(workers=threads, periodic=periodic).run()


mail_cli = AppGroup("mail", help="Outgoing mail: read the outbox, resend what failed.")


@mail_cli.command("outbox")
@click.option("-n", "--count", default=1, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the newest messages.")
@click.option("--to", "to", default=None, help="Only messages to this address.")
def mail_outbox(count, to):
    """Print the newest messages in the outbox decoded, newest last, so a link can be copied as is."""
    messages = mail.newest_messages(count=count, to=to)
    if not messages:
        raise click.ClickException(f"No mail{f' to {to}' if to else ''} in {mail.outbox_dir()}.")
    for number, message in enumerate(messages):
        if number:
            click.echo("\n" + "-" * 72 + "\n")
        for header in ("Date", "To", "Subject"):
            click.echo(f"{header}: {message[header]}")
        click.echo("\n" + mail.plain_text(message).rstrip())


@mail_cli.command("resend")
def mail_resend():
    """Send the messages kept in outbox/failed/ again over SMTP; each one sent leaves the folder."""
    if not current_app.config["MAIL_SERVER"]:
        raise click.ClickException("MAIL_SERVER is not set: there is no SMTP server to resend to.")
    sent, failing = mail.resend_failed()
    click.echo(f"Resent {sent} message{'' if sent == 1 else 's'}.")
    if failing:
        raise click.ClickException(f"{failing} still failing; kept in {mail.failed_dir()}.")


@jurisdictions_cli.command("import-metrics")
@click.argument("slug")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
def jurisdictions_import_metrics(slug, csv_file):
    """Report or correct a jurisdiction's metrics from a CSV (the upload form's columns); all rows or none."""
    with uow.unit_of_work():
        jurisdiction = get_jurisdiction(slug)
        if jurisdiction is None:
            raise click.ClickException(f"No jurisdiction has the slug {slug!r}.")
        try:
            result = metrics.import_metrics_csv(jurisdiction, actor=None, text=csv_file.read(), origin="staff")
        except metrics.RowErrors as error:
            for line, message in error.rows:
                click.echo(f"  line {line}: {message}", err=True)
            raise click.ClickException(error.message) from error
        except ValidationFailed as error:
            raise click.ClickException(error.message) from error
    click.echo(f"{len(result.created)} reported, {len(result.corrected)} corrected, {result.unchanged} unchanged.")


@jurisdictions_cli.command("refresh")
def jurisdictions_refresh():
    """Recompute every jurisdiction's stored headline (the figure the directory, home page and API show)."""
    with uow.unit_of_work():
        total = len(list_jurisdictions())
        with click.progressbar(length=total, label="Recomputing", file=sys.stderr) as bar:
            changed = metrics.refresh_all_headlines(bar.update)
    click.echo(f"{len(changed)} of {total} were out of date" + (f": {', '.join(changed)}." if changed else "."))


calls_cli = AppGroup("calls", help="Call-type analysis of dispatch data.")


def _field_mapping(pairs) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or field.strip() not in calls_mapping.FIELDS:
            raise click.BadParameter(f"{pair!r}: write FIELD=COLUMN, FIELD one of {', '.join(calls_mapping.FIELDS)}.",
                                     param_hint="--map")
        mapping[field.strip()] = column
    return mapping


@calls_cli.command("analyze")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--jurisdiction", "slug", required=True, help="The jurisdiction's slug.")
@click.option("--map", "pairs", multiple=True, metavar="FIELD=COLUMN",
              help="A column for a field (call_type, received_at, priority, disposition, unit_type); the others "
                   "are proposed from the header, as on the upload form.")
@click.option("--code-table", type=click.File("rb"), help="A CSV of code,description saved as the "
              "jurisdiction's code table first.")
@click.option("--output", type=click.File("w", encoding="utf-8"), help="Write the results as JSON here.")
def calls_analyze(file, slug, pairs, code_table, output):
    """Analyse a CAD extract (CSV, or gzip-compressed CSV) in this process, as the worker would: the same job,
    a progress bar, the results stored with the jurisdiction's analyses."""
    mapping = _field_mapping(pairs)
    with uow.unit_of_work():
        jurisdiction = get_jurisdiction(slug)
        if jurisdiction is None:
            raise click.ClickException(f"No jurisdiction has the slug {slug!r}.")
        if code_table is not None:
            try:
                codes = calls_rules.save_code_table(jurisdiction, actor=None, data=code_table.read(
                    calls_rules.MAX_CODE_TABLE_BYTES + 1))
            except ValidationFailed as error:
                raise click.ClickException(f"--code-table: {error.message}") from error
            click.echo(f"Code table saved: {len(codes)} codes.", err=True)
    with click.progressbar(length=1000, label="Reading", file=sys.stderr) as bar:
        done = [0]

        def progress(stage, fraction, rows):
            step = int(fraction * 1000)
            bar.label = "Preparing" if stage == "preparing" else f"Reading (about {rows:,} rows)"
            if stage == "reading" and step > done[0]:
                bar.update(step - done[0])
                done[0] = step

        try:
            analysis = calls_services.analyse_file(jurisdiction, Path(file), actor=None, mapping=mapping,
                                                   progress=progress)
        except ValidationFailed as error:
            raise click.ClickException(error.message) from error
    if analysis.status != "done":
        raise click.ClickException(analysis.error or "The analysis did not finish.")
    results = calls_services.results_of(analysis)
    if output is not None:
        json.dump(results.to_json(), output, indent=1)
        output.write("\n")
    share = (lambda value: "none" if value is None else f"{value:.1%}")
    click.echo(f"{results.calls:,} calls counted of {results.rows:,} rows ({results.unreadable:,} unreadable) in "
               f"{analysis.seconds:.1f} s; mapping: {', '.join(f'{k}={v}' for k, v in analysis.mapping.items())}.")
    click.echo(f"Alternative response: {share(results.alternative_share)}; co-response: "
               f"{share(results.co_response_share)}; coverage of the mapping: {share(results.coverage)}"
               + (f"; answered by non-police units: {share(results.non_police_share)}" if results.has_unit_type
                  else "") + ".")
    for entry in results.unmapped[:10]:
        click.echo(f"  not mapped: {entry.call_type} ({entry.calls:,} calls)")
    click.echo(f"Analysis #{analysis.id}: /jurisdictions/{slug}/analysis/{analysis.id}")


def register_cli(app: Flask) -> None:
    for group in (content_cli, members_cli, search_cli, alerts_cli, events_cli, jurisdictions_cli, mail_cli,
                  calls_cli, worker):
        app.cli.add_command(group)
