"""Membership pages: sign-up, verification, sign-in and out, reset, the account page."""
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from portal.events import account as event_account
from portal.exceptions import ValidationFailed
from portal.extensions import limiter
from portal.forms import EmptyForm, apply_error
from portal.jurisdictions import representatives
from portal.jurisdictions.forms import representation_form
from portal.members import services
from portal.members.forms import (ChangeEmailForm, ChangePasswordForm, DeleteAccountForm,
                                  LoginForm, ProfileForm, ResetPasswordForm, ResetRequestForm, SignupForm)
from portal.network import services as network
from portal.network.forms import directory_form
from portal.security import access, safe_next
from portal.tokens import TokenInvalid

bp = Blueprint("members", __name__)


def _email_key() -> str:
    """The per-email limits count the address the account uses, so no Unicode, case or spacing variant of
    one address (a fullwidth letter, say) gets a fresh allowance."""
    typed = (request.form.get("email") or "")[:320]
    try:
        return "email:" + services.normalize_email(typed)
    except ValidationFailed:  # finds no account anyway; still counted, by its folded form
        return "email:" + " ".join(typed.split()).casefold()[:254]


def _sign_in(member, *, remember: bool) -> None:
    """Start a signed-in session with a fresh CSRF token: a token seen before sign-in (on a shared computer,
    or planted in the page) is worth nothing after it."""
    session.pop("csrf_token", None)
    login_user(member, remember=remember)


def _profile_args(form) -> dict:
    return dict(name=form.name.data, organisation=form.organisation.data, title=form.title.data,
                sector=form.sector.data, jurisdiction=form.jurisdiction.data,
                jurisdiction_other=form.jurisdiction_other.data, wants_alerts=form.wants_alerts.data)


@bp.route("/signup", methods=["GET", "POST"])
@access("public")
@limiter.limit("20 per hour", methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("members.account"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            services.register_member(email=form.email.data, password=form.password.data,
                                     consent=form.consent.data, **_profile_args(form))
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            return render_template("members/check_email.html", email=form.email.data.strip())
    return render_template("members/signup.html", form=form), 400 if form.errors else 200


@bp.route("/verify/<token>")
@access("public")
def verify(token):
    try:
        member = services.verify_email(token)
    except TokenInvalid as error:
        return render_template("members/link_invalid.html", expired=error.expired, purpose="verify"), 400
    if current_user.is_authenticated and current_user.id == member.id:
        flash("Thank you: your email address is confirmed.", "success")
        return redirect(url_for("members.account"))
    # Not signed in here: say so plainly, and let the member sign in. The link does not sign anyone in: a
    # mailed link that opens the account would be a password for whoever reads or scans the mail.
    return render_template("members/verified.html", email=member.email)


@bp.route("/verify/resend", methods=["POST"])
@access("member")
@limiter.limit("5 per hour", methods=["POST"])
def resend_verification():
    if EmptyForm().validate_on_submit():
        services.resend_verification(current_user)
        flash("We sent a new confirmation link. It works for 48 hours.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("members.account")))


@bp.route("/login", methods=["GET", "POST"])
@access("public")
@limiter.limit("10 per minute", methods=["POST"])
@limiter.limit("5 per minute;20 per hour", key_func=_email_key, methods=["POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        member = services.authenticate(email=form.email.data, password=form.password.data)
        if member is not None:
            _sign_in(member, remember=form.remember.data)
            return redirect(safe_next(form.next.data, url_for("public.home")))
        form.form_errors.append("The email or password is not correct.")
    return render_template("members/login.html", form=form), 400 if form.errors else 200


@bp.route("/logout", methods=["POST"])
@access("public")
def logout():
    if EmptyForm().validate_on_submit():
        if current_user.is_authenticated:
            # Everywhere, not only here: the cookies are signed but not stored, so the member's one session
            # token is the only server-side state to end, and a copied or stolen cookie must die with it.
            services.end_sessions(current_user._get_current_object())
        logout_user()
        flash("You are signed out. Your other devices are signed out too.", "success")
    return redirect(url_for("public.home"))


@bp.route("/reset", methods=["GET", "POST"])
@access("public")
@limiter.limit("5 per minute", methods=["POST"])
@limiter.limit("3 per hour", key_func=_email_key, methods=["POST"])
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(email=form.email.data)
        return render_template("members/reset_sent.html")
    return render_template("members/reset_request.html", form=form), 400 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
@access("public")
@limiter.limit("10 per minute", methods=["POST"])
def reset_password(token):
    try:
        services.member_for_reset(token)
    except TokenInvalid as error:
        return render_template("members/link_invalid.html", expired=error.expired, purpose="reset"), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token=token, password=form.password.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            logout_user()
            flash("Your password is changed and every other session is signed out. Sign in with the new one.",
                  "success")
            return redirect(url_for("members.login"))
    return render_template("members/reset_password.html", form=form), 400 if form.errors else 200


def _account_forms(**bound):
    forms = {
        "profile_form": ProfileForm(formdata=None, data=services.profile_data(current_user)),
        "password_form": ChangePasswordForm(formdata=None),
        "email_form": ChangeEmailForm(formdata=None),
        "delete_form": DeleteAccountForm(formdata=None),
        "calendar_form": EmptyForm(formdata=None),
        "representation_form": representation_form(),
    }
    if current_user.is_verified:
        forms["directory_form"] = directory_form(network.profile_form_data(current_user), formdata=None)
    forms.update(bound)
    return forms


def account_page(status=200, **bound):
    return render_template("members/account.html", events=event_account.account_events(current_user),
                           representation=representatives.requests_of(current_user), **_account_forms(**bound)), status


@bp.route("/account", methods=["GET", "POST"])
@access("member")
def account():
    if request.method == "GET":
        return account_page()
    form = ProfileForm()
    if form.validate_on_submit():
        try:
            services.update_profile(current_user, **_profile_args(form), timezone=form.timezone.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("Your profile is saved.", "success")
            return redirect(url_for("members.account"))
    return account_page(400, profile_form=form)


@bp.route("/account/password", methods=["POST"])
@access("member")
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            member = services.change_password(current_user._get_current_object(),
                                              current_password=form.current_password.data,
                                              new_password=form.new_password.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            # Keep this session (and its "keep me signed in"); the rotated token ends the others.
            _sign_in(member, remember=current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
                     in request.cookies)
            flash("Your password is changed. Other sessions are signed out.", "success")
            return redirect(url_for("members.account"))
    return account_page(400, password_form=form)


@bp.route("/account/email", methods=["POST"])
@access("member")
@limiter.limit("5 per hour", methods=["POST"])
def change_email():
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            services.request_email_change(current_user, new_email=form.new_email.data, password=form.password.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            flash("We sent a confirmation link to the new address. Your email changes when you open it.", "success")
            return redirect(url_for("members.account"))
    return account_page(400, email_form=form)


@bp.route("/account/export.json")
@access("member")
def export_data():
    response = jsonify(services.export_member_data(current_user))
    response.headers["Content-Disposition"] = 'attachment; filename="my-12-million-calls-data.json"'
    return response


@bp.route("/account/delete", methods=["POST"])
@access("member")
def delete_account():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            services.delete_member(current_user._get_current_object(), password=form.password.data)
        except ValidationFailed as error:
            apply_error(form, error)
        else:
            logout_user()
            flash("Your account and personal data are deleted.", "success")
            return redirect(url_for("public.home"))
    return account_page(400, delete_form=form)
