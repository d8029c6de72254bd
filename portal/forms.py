"""Helpers shared by every feature's forms."""
from flask import flash, request
from flask_wtf import FlaskForm
from wtforms.validators import ValidationError

from portal import uow
from portal.exceptions import ValidationFailed


class EmptyForm(FlaskForm):
    """A form with only the CSRF token: sign out, resend a link, confirm an action."""


def apply_error(form: FlaskForm, error: ValidationFailed) -> None:
    """Put a service's ValidationFailed on the matching field, or on the form as a whole.

    The service refused, so the unit of work is undone here: the page shown next neither saves
    half of it (a redirect commits) nor writes it out while rendering (autoflush)."""
    uow.rollback()
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message] if isinstance(field.errors, list) else [error.message]
    else:
        form.form_errors.append(error.message)


def flash_error(error: Exception) -> None:
    """A refused action shown as a message on the next page; like apply_error, it undoes the unit of work."""
    uow.rollback()
    flash(getattr(error, "message", None) or str(error), "error")


def flash_form_errors(form: FlaskForm) -> None:
    """A form sent from another page (a button beside a result) that did not validate: each of its messages
    flashed for the page it goes back to; an expired or missing CSRF token reads as an expired form."""
    messages = [str(message) for name, found in form.errors.items() if name != "csrf_token"
                for message in (found if isinstance(found, list) else [found])]
    for message in messages or ["The form had expired. Please try again."]:
        flash(message, "error")


def run_confirmed(action, success: str) -> bool:
    """A one-button form (an EmptyForm: delete, revoke): run `action` when the CSRF token is good and flash
    `success`; an expired form, or a refusal from the service, is flashed instead. True when it ran."""
    if not EmptyForm().validate_on_submit():
        flash("The form had expired. Please try again.", "error")
        return False
    try:
        action()
    except ValidationFailed as error:
        flash_error(error)
        return False
    flash(success, "success")
    return True


def page_number(limit: int = 10_000) -> int:
    """The `page` query argument, clamped to 1..limit whatever was typed."""
    page = request.args.get("page", 1, type=int)
    return max(1, min(page, limit))


def no_control_characters(form, field):
    """One-line fields: no control characters at all."""
    if isinstance(field.data, str) and any(ord(c) < 32 or ord(c) == 127 for c in field.data):
        raise ValidationError("Remove the control characters from this field.")


def plain_text(form, field):
    """Multi-line fields: line breaks and tabs are fine, other control characters are not."""
    if isinstance(field.data, str) and any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127
                                           for c in field.data):
        raise ValidationError("Remove the control characters from this field.")
