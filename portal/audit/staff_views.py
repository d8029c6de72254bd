"""The audit log's staff page: every change, newest first, told as sentences."""
from flask import Blueprint, render_template, request
from flask_login import current_user

from portal.audit.sentences import describe_events
from portal.audit.services import list_events
from portal.forms import page_number
from portal.security import access

bp = Blueprint("audit_staff", __name__, url_prefix="/staff")


@bp.route("/audit")
@access("staff")
def audit_log():
    action = request.args.get("action", "")[:64] or None
    events = list_events(page=page_number(), action=action)
    return render_template("audit_staff/audit.html", events=events, action=action,
                           sentences=describe_events(events.items, viewer=current_user))
