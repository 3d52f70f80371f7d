"""Producer failures a user can act on."""

from fraudstream.errors import FraudstreamError


class DeliveryError(FraudstreamError):
    """Records could not be delivered to Kinesis after every retry."""

    def __init__(self, message: str, undelivered: int) -> None:
        super().__init__(message)
        self.undelivered = undelivered


class ReplayFormatError(FraudstreamError):
    """A replay file is missing columns its format needs, or cannot be read."""
