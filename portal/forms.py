"""Helpers shared by every feature's forms."""
from flask import request
from flask_wtf import FlaskForm
from wtforms.validators import ValidationError

from portal.exceptions import ValidationFailed


def apply_error(form: FlaskForm, error: ValidationFailed) -> None:
    """Put a service's ValidationFailed on the matching field, or on the form as a whole."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message] if isinstance(field.errors, list) else [error.message]
    else:
        form.form_errors.append(error.message)


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
