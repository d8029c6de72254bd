"""Flask commands: thin wrappers over the services."""
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.content import load_content
from portal.exceptions import ValidationFailed
from portal.members.services import create_admin

content_cli = AppGroup("content", help="Load the site's default content.")
members_cli = AppGroup("members", help="Manage member accounts.")


@content_cli.command("load")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def content_load(folder):
    """Load FOLDER (default: content/) through the services; running it twice changes nothing."""
    folder = folder or Path(current_app.config["CONTENT_DIR"])
    try:
        report = load_content(folder)
    except ValidationFailed as error:
        raise click.ClickException(error.message) from error
    click.echo(f"{len(report.created_or_updated)} created or updated, {len(report.unchanged)} unchanged.")
    for path in report.created_or_updated:
        click.echo(f"  saved {path}")
    if report.errors:
        for message in report.errors:
            click.echo(f"  error: {message}", err=True)
        raise click.ClickException(f"{len(report.errors)} file(s) could not be loaded.")


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
        member = create_admin(email=email, password=password, name=name)
    except ValidationFailed as error:
        raise click.ClickException(error.message) from error
    click.echo(f"{member.email} is an admin.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(content_cli)
    app.cli.add_command(members_cli)
