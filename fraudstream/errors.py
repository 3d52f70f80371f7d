"""Exceptions shared by every Fraudstream component.

Each one carries a message meant for the person running the command; the CLI prints it as a
single line and exits non-zero instead of showing a traceback.
"""


class FraudstreamError(Exception):
    """Base class: an expected failure with a message a user can act on."""


class SettingsError(FraudstreamError):
    """Settings failed validation; the message names the field and its environment variable."""


class StackError(FraudstreamError):
    """The local AWS stack could not be started, reached or stopped."""


class ResourceMissingError(FraudstreamError):
    """A stream, bucket or table the command needs does not exist."""
