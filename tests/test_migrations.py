"""Migrations build the schema the models describe, both ways, and `make run`'s path works.

Each test starts from an empty database of its own: a SQLite file, and (when
TEST_DATABASE_URL is set) a throwaway PostgreSQL database created next to the test one.
"""
import logging
import os
import re
import subprocess
import sys
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from portal import create_app
from portal.extensions import db
from tests.conftest import ROOT, TEST_DATABASE_URL, throwaway_postgres_database, unit

MIGRATIONS = str(ROOT / "migrations")
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        with throwaway_postgres_database() as url:
            yield url


@contextmanager
def _logging_kept():
    """Alembic's env.py runs logging.config.fileConfig, which disables every logger it does not
    name and replaces the root handlers (pytest's capture among them); put all of that back."""
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    saved = {name: (logger.disabled, logger.level, list(logger.handlers), logger.propagate)
             for name, logger in logging.Logger.manager.loggerDict.items() if isinstance(logger, logging.Logger)}
    try:
        yield
    finally:
        root.setLevel(saved_root[0])
        root.handlers[:] = saved_root[1]
        for name, logger in logging.Logger.manager.loggerDict.items():
            if not isinstance(logger, logging.Logger):
                continue
            if name in saved:
                logger.disabled, level, handlers, logger.propagate = saved[name]
                logger.setLevel(level)
                logger.handlers[:] = handlers
            else:
                logger.disabled = False


@pytest.fixture
def migration_app(tmp_path, empty_database_url):
    app = create_app({
        "PORTAL_INSTANCE_PATH": tmp_path / "instance",
        "SQLALCHEMY_DATABASE_URI": empty_database_url,
        "SEARCH_INDEX_DIR": str(tmp_path / "search"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAIL_SERVER": None,
        "TESTING": True,
    })
    yield app
    with unit(app):
        db.session.remove()
        db.engine.dispose()


def _migrate(app, step, revision):
    with app.app_context(), _logging_kept():
        step(directory=MIGRATIONS, revision=revision)
        db.session.remove()


def _differences(app) -> list:
    """What autogenerate would write for this database: empty when models and migrations agree."""
    options = app.extensions["migrate"].configure_args
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": options.get("compare_type", True),
            "compare_server_default": options.get("compare_server_default", False),
        })
        return compare_metadata(context, db.metadata)


def _describe(difference) -> str:
    """('add_table', Table(...)) -> 'add_table jurisdictions'; column changes come as lists of tuples."""
    if isinstance(difference, list):
        return "; ".join(_describe(item) for item in difference)
    operation, *details = difference
    names = [getattr(item, "name", None) or (item if isinstance(item, str) else None) for item in details]
    return " ".join([operation, *(str(name) for name in names if name)])


def assert_models_match_migrations(app):
    differences = [_describe(item) for item in _differences(app)]
    message = "models and migrations disagree; autogenerate a migration (`flask db migrate`) and read it"
    assert not differences, message + ":\n  " + "\n  ".join(differences)


def _tables(app) -> set[str]:
    with unit(app):
        return set(inspect(db.engine).get_table_names())


def test_migrations_build_exactly_the_schema_the_models_describe(migration_app):
    assert _tables(migration_app) == set()

    _migrate(migration_app, upgrade, "head")

    assert "alembic_version" in _tables(migration_app)
    assert_models_match_migrations(migration_app)


def test_migrations_downgrade_to_base_and_upgrade_again(migration_app):
    _migrate(migration_app, upgrade, "head")

    _migrate(migration_app, downgrade, "base")
    assert _tables(migration_app) <= {"alembic_version"}

    _migrate(migration_app, upgrade, "head")
    assert_models_match_migrations(migration_app)


def _flask(tmp_path, database_url, *args):
    """`flask --app app ...` in a fresh process, as `make run` calls it."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MAIL_", "PORTAL_", "SECRET_KEY", "DATABASE_URL", "SEARCH_INDEX_DIR",
                                  "UPLOAD_DIR", "CONTENT_DIR", "FLASK_"))}
    env["PORTAL_INSTANCE_PATH"] = str(tmp_path / "instance")
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def _counts(output: str) -> tuple[int, int]:
    match = re.search(r"(\d+) created or updated, (\d+) unchanged", output)
    assert match, output
    return int(match.group(1)), int(match.group(2))


def test_make_run_path_upgrades_and_loads_content_idempotently(tmp_path, empty_database_url):
    # On SQLite leave DATABASE_URL unset: `make run` uses the embedded default under the instance folder.
    database_url = None if empty_database_url.startswith("sqlite") else empty_database_url

    _flask(tmp_path, database_url, "db", "upgrade")
    created, unchanged = _counts(_flask(tmp_path, database_url, "content", "load"))
    assert created > 0 and unchanged == 0

    # Running `make run` again: the upgrade is a no-op and the content is already there.
    _flask(tmp_path, database_url, "db", "upgrade")
    assert _counts(_flask(tmp_path, database_url, "content", "load")) == (0, created)

    if database_url is None:
        assert (tmp_path / "instance" / "portal.db").is_file()


def test_free_text_jurisdictions_become_keys_and_ids_are_never_reused(migration_app):
    """The hardening migration maps members' and suggestions' typed jurisdictions to the directory by slug, name
    or "name, state" in any case, keeps the rest as the "other" note, and maps them back on downgrade."""
    _migrate(migration_app, upgrade, "ffafb2300c24")
    now = "2026-01-01 00:00:00"
    with migration_app.app_context(), db.engine.begin() as connection:
        connection.execute(text("INSERT INTO jurisdictions (id, slug, name, state, summary, created_at, updated_at) "
                                "VALUES (7, 'denver', 'Denver', 'Colorado', '', :now, :now)"), {"now": now})
        members = [(1, "denver"), (2, " DENVER, colorado "), (3, "Springfield"), (4, "")]  # inserted in this order
        for number, typed in members:
            connection.execute(text(
                "INSERT INTO members (email, password_hash, name, organisation, title, sector, jurisdiction, "
                "wants_alerts, role, session_token, consented_at, created_at, updated_at) VALUES "
                "(:email, 'x', 'M', '', '', 'other', :typed, false, 'member', :token, :now, :now, :now)"),
                {"email": f"m{number}@example.org", "typed": typed, "token": f"t{number}", "now": now})
        connection.execute(text(
            "INSERT INTO suggestions (id, title, summary, type, external_url, jurisdiction, note, status, staff_note, "
            "created_at) VALUES (1, 'T', '', 'policy', '', 'Denver', '', 'pending', '', :now), "
            "(2, 'U', '', 'policy', '', 'Gotham City', '', 'pending', '', :now)"), {"now": now})

    _migrate(migration_app, upgrade, "head")
    assert_models_match_migrations(migration_app)
    with migration_app.app_context(), db.engine.connect() as connection:
        rows = connection.execute(text("SELECT email, jurisdiction_id, jurisdiction_other FROM members ORDER BY id"))
        assert [tuple(row) for row in rows] == [("m1@example.org", 7, ""), ("m2@example.org", 7, ""),
                                                ("m3@example.org", None, "Springfield"), ("m4@example.org", None, "")]
        rows = connection.execute(text("SELECT id, jurisdiction_id, jurisdiction_other FROM suggestions ORDER BY id"))
        assert [tuple(row) for row in rows] == [(1, 7, ""), (2, None, "Gotham City")]
    with migration_app.app_context(), db.engine.begin() as connection:
        # The highest id is deleted, then a new row arrives: it must not get the deleted member's id back.
        highest = connection.execute(text("SELECT max(id) FROM members")).scalar()
        connection.execute(text("DELETE FROM members WHERE id = :id"), {"id": highest})
        connection.execute(text(
            "INSERT INTO members (email, password_hash, name, organisation, title, sector, wants_alerts, role, "
            "session_token, consented_at, created_at, updated_at, jurisdiction_other) VALUES "
            "('new@example.org', 'x', 'N', '', '', 'other', false, 'member', 'tn', :now, :now, :now, '')"),
            {"now": now})
        assert connection.execute(text("SELECT id FROM members WHERE email = 'new@example.org'")).scalar() > highest

    _migrate(migration_app, downgrade, "ffafb2300c24")
    with migration_app.app_context(), db.engine.connect() as connection:
        rows = connection.execute(text("SELECT email, jurisdiction FROM members ORDER BY id"))
        assert [tuple(row) for row in rows] == [("m1@example.org", "Denver, Colorado"),
                                                ("m2@example.org", "Denver, Colorado"),
                                                ("m3@example.org", "Springfield"), ("new@example.org", "")]
