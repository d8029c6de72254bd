"""The staff dashboard: what is waiting, with counts, linking to each feature's staff pages."""
from flask import Blueprint, render_template
from flask_login import current_user

from portal.audit.sentences import describe_events
from portal.audit.services import list_events
from portal.security import access
from portal.staff.services import scheduled_resources, work_counts

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.route("/")
@access("staff")
def index():
    recent = list_events(per_page=10).items
    return render_template("staff/index.html", counts=work_counts(), scheduled=scheduled_resources(),
                           sentences=describe_events(recent, viewer=current_user))
