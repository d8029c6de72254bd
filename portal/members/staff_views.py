"""Staff pages of membership: finding members and granting or removing the staff role (admins only)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.exceptions import ValidationFailed
from portal.forms import EmptyForm, flash_error, page_number
from portal.members import services as members
from portal.security import access
from portal.staff.forms import RoleForm

bp = Blueprint("members_staff", __name__, url_prefix="/staff")


def _query() -> str:
    return request.args.get("q", "")[:100]


def _show() -> str | None:
    show = request.args.get("show", "")
    return show if show in members.MEMBER_FILTERS else None


@bp.route("/members")
@access("admin")
def member_list():
    q, show = _query(), _show()
    return render_template("members_staff/members.html", q=q, show=show, filters=members.MEMBER_FILTERS,
                           members=members.search_members(q=q, show=show, page=page_number()),
                           role_form=RoleForm(formdata=None), form=EmptyForm(formdata=None))


@bp.route("/members/<int:member_id>/role", methods=["POST"])
@access("admin")
def set_role(member_id):
    member = members.get_member(member_id)
    if member is None:
        abort(404)
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose member or staff.", "error")
        return redirect(url_for("members_staff.member_list")), 303
    try:
        members.set_member_role(member, role=form.role.data, actor=current_user._get_current_object())
    except ValidationFailed as error:
        flash_error(error)
    else:
        flash(f"{member.name} is now {'staff' if member.role == 'staff' else 'a member'}.", "success")
    return redirect(url_for("members_staff.member_list", q=_query() or None, show=_show()))
