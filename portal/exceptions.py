"""Domain errors that services raise and views turn into messages."""


class ValidationFailed(Exception):
    """Input the service cannot accept; `field` names the form field (or None)."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class NotAllowed(Exception):
    """The actor may not do this."""
