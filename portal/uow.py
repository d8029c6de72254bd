"""The unit of work: services add to the session and register after-commit actions; the outermost call commits.

A request, a CLI command, a content load or a queued task is one unit of work: services never commit,
so they compose (a service that calls another never commits halfway). When the unit ends well the
session commits once and the actions registered with `after_commit` run (reindex these documents,
send this mail); when it fails, or anything rolls the session back, the actions are dropped with the
changes, so nothing is indexed or mailed about work that was never saved.
"""
import logging
from collections.abc import Callable, Hashable
from contextlib import contextmanager

from flask import Flask, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.extensions import db

log = logging.getLogger(__name__)

_ACTIONS = "portal.uow.actions"      # [(key, action)] in registration order
_COLLECTED = "portal.uow.collected"  # key -> items gathered for one action
_FLUSHED = "portal.uow.flushed"      # the unit wrote something, even if only flushed so far
_DEPTH = "portal.uow.depth"


def after_commit(action: Callable[[], None], *, key: Hashable | None = None) -> None:
    """Run `action` once the current unit of work has committed; never if it rolls back.

    With a key, a second registration under the same key in the same unit is ignored."""
    actions = db.session.info.setdefault(_ACTIONS, [])
    if key is not None and any(existing == key for existing, _ in actions):
        return
    actions.append((key, action))


def collect(key: Hashable, item, action: Callable[[list], None]) -> None:
    """Gather items under `key` during the unit; after the commit `action(items)` runs once with all of them
    (in the order first added): reindex every resource this unit touched, in one index write."""
    collected = db.session.info.setdefault(_COLLECTED, {})
    items = collected.setdefault(key, [])
    if item not in items:
        items.append(item)
    after_commit(lambda: action(list(db.session.info.get(_COLLECTED, {}).pop(key, items))), key=("collect", key))


def in_unit() -> bool:
    """A unit of work is open (a request, or a `with unit_of_work():`), so after-commit actions will run."""
    return has_request_context() or (has_app_context() and db.session.info.get(_DEPTH, 0) > 0)


def has_work() -> bool:
    session = db.session
    return bool(session.new or session.dirty or session.deleted or session.info.get(_FLUSHED)
                or session.info.get(_ACTIONS))


def _forget(session) -> None:
    for name in (_ACTIONS, _COLLECTED, _FLUSHED):
        session.info.pop(name, None)


def commit() -> None:
    """Commit the unit, then run its after-commit actions in order. A failing action is logged and the
    others still run: the data is saved, and each action's own repair path (a resend, `flask search sync`)
    takes over."""
    session = db.session
    session.commit()
    session.info.pop(_FLUSHED, None)
    # An action may register another (queue a job from an after-commit hook): those run in the next round.
    while actions := session.info.pop(_ACTIONS, []):
        for _, action in actions:
            try:
                action()
            except Exception:  # the commit stands whatever an action does
                log.exception("an after-commit action failed")
        if session.new or session.dirty or session.deleted or session.info.pop(_FLUSHED, None):
            session.commit()  # what the actions themselves wrote (a delivery record, say)
    session.info.pop(_COLLECTED, None)


def rollback() -> None:
    """Undo the unit: its changes and its after-commit actions."""
    db.session.rollback()
    _forget(db.session)


def finish(success: bool) -> None:
    """End the outermost unit: commit what it did when it went well, roll back otherwise (a unit that
    only read is left alone: the session's end closes its transaction)."""
    if not success:
        rollback()
    elif has_work():
        commit()


@contextmanager
def unit_of_work():
    """One unit of work for a command or a task; nested uses join the outermost one."""
    info = db.session.info
    depth = info.get(_DEPTH, 0)
    info[_DEPTH] = depth + 1
    try:
        yield
    except BaseException:
        info[_DEPTH] = depth
        if depth == 0:
            rollback()
        raise
    info[_DEPTH] = depth
    if depth == 0:
        finish(True)


@event.listens_for(Session, "after_flush")
def _mark_flushed(session, flush_context):
    session.info[_FLUSHED] = True


@event.listens_for(Session, "do_orm_execute")
def _mark_written(orm_execute_state):
    # An UPDATE or INSERT run as a statement (a download counter) is work too, though no object is dirty.
    if orm_execute_state.is_insert or orm_execute_state.is_update or orm_execute_state.is_delete:
        orm_execute_state.session.info[_FLUSHED] = True


@event.listens_for(Session, "after_soft_rollback")
def _drop_actions(session, previous_transaction):
    # Whoever rolled back (a service turning an IntegrityError into a message, the request's end), the
    # actions registered for the undone work must not run.
    _forget(session)


def register_unit_of_work(app: Flask) -> None:
    """Each request is one unit of work: it commits when the answer is a success or a redirect (below 400),
    and rolls back otherwise, so a form answered with an error has saved nothing."""

    @app.after_request
    def commit_request(response):
        finish(response.status_code < 400)
        return response

    @app.teardown_request
    def rollback_on_error(error):
        if error is not None:
            rollback()
