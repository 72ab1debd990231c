"""The one error every channel raises."""


class ChannelError(Exception):
    """A channel that could not deliver: one line, never a secret (the alerts
    stay pending in the outbox and are sent again on the next run)."""
