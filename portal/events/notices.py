"""The mail about registrations and events, sent through portal/mail.py once the unit of work commits."""


def send_confirmation(registration) -> None:
    pass


def send_waitlisted(registration) -> None:
    pass


def send_promotion(registration) -> None:
    pass


def send_change(event, registrations) -> None:
    pass


def send_cancellation(event, registrations, *, note: str = "") -> None:
    pass


def send_message(event, registrations, *, subject: str, body: str) -> None:
    pass


def send_guest_link(event, *, name: str, email: str, token: str) -> None:
    pass
