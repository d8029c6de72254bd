"""Staff pages of the member directory: reports waiting, contact volume (counts only), every profile with
hide, show, suspend and restore."""
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from portal.exceptions import ValidationFailed
from portal.forms import EmptyForm, flash_error, flash_form_errors, page_number, run_confirmed
from portal.network import moderation
from portal.network.forms import ModerationForm
from portal.security import access

bp = Blueprint("network_staff", __name__, url_prefix="/staff/network")


@bp.route("")
@access("staff")
def index():
    return render_template("network_staff/index.html", reports=moderation.open_reports(),
                           volume=moderation.contact_volume(), profiles=moderation.all_profiles(page=page_number()),
                           form=EmptyForm(formdata=None))


@bp.route("/profiles/<int:profile_id>", methods=["POST"])
@access("staff")
def moderate(profile_id):
    profile = moderation.get_profile(profile_id) or abort(404)
    form = ModerationForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            moderation.moderate(profile, form.action.data, actor=current_user._get_current_object())
        except ValidationFailed as error:
            flash_error(error)
        else:
            flash(f"{profile.display_name} is {moderation.ACTIONS[form.action.data].done}.", "success")
    return redirect(url_for("network_staff.index") + f"#profile-{profile.id}")


@bp.route("/reports/<int:message_id>/dismiss", methods=["POST"])
@access("staff")
def dismiss(message_id):
    message = moderation.get_report(message_id) or abort(404)
    run_confirmed(lambda: moderation.dismiss_report(message, actor=current_user._get_current_object()),
                  "The report is dismissed; the member who made it sees that staff looked at it.")
    return redirect(url_for("network_staff.index") + "#reports-heading")
