"""The host services that are single calls: the clock and publishing."""

from __future__ import annotations

from ._host import HOST
from ._message import Outgoing


def now_ms() -> int:
    """Milliseconds since the Unix epoch, by the broker's clock."""
    return HOST.now_ms()


def publish(message: Outgoing) -> str:
    """Sends ``message`` through the broker; answers the new message's id.

    Only consumer bindings granted publishing may publish. If the batch later fails and
    is retried, the consumer publishes again: a consumer whose target must not see
    duplicates gives the outgoing message a stable key and binds a dedup filter on the
    target topic.

    Raises :class:`weir.HostError` when publishing is not granted, the topic does not
    exist, or the broker cannot store the message.
    """
    if not isinstance(message, Outgoing):
        raise TypeError(f"publish takes a weir.Outgoing, not {type(message).__name__}")
    return HOST.publish(message._checked())
