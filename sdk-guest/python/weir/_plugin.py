"""What a plugin implements: the base classes of the three worlds, their answers
(``Outcome``, ``TxState``), the registration calls, and ``ConfigCache``."""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Generic, Optional, TypeVar

from ._host import check_str, check_u64
from ._message import Message

T = TypeVar("T")


class Outcome:
    """What happens to one message a consumer handled: ``Outcome.ack()``,
    ``Outcome.retry(ms)`` or ``Outcome.dead_letter(reason)``."""

    __slots__ = ("kind", "value")

    ACK = "ack"
    RETRY = "retry"
    DEAD_LETTER = "dead-letter"

    def __init__(self, kind: str, value: Any = None) -> None:
        self.kind = kind
        self.value = value

    @classmethod
    def ack(cls) -> "Outcome":
        """Done: ack it."""
        return _ACK

    @classmethod
    def retry(cls, ms: int = 0) -> "Outcome":
        """Failed: deliver it again after ``ms`` milliseconds (0: the group's backoff)."""
        return cls(cls.RETRY, check_u64("the retry delay", ms))

    @classmethod
    def dead_letter(cls, reason: str) -> "Outcome":
        """Give up: move it to the group's dead-letter queue with ``reason``."""
        return cls(cls.DEAD_LETTER, check_str("the dead-letter reason", reason))

    @property
    def is_ack(self) -> bool:
        return self.kind == self.ACK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return (self.kind, self.value) == (other.kind, other.value)

    def __hash__(self) -> int:
        return hash((self.kind, self.value))

    def __repr__(self) -> str:
        if self.kind == self.ACK:
            return "Outcome.ack()"
        if self.kind == self.RETRY:
            return f"Outcome.retry({self.value})"
        return f"Outcome.dead_letter({self.value!r})"


_ACK = Outcome(Outcome.ACK)
#: Retry after the consumer group's backoff.
Outcome.RETRY_WITH_BACKOFF = Outcome(Outcome.RETRY, 0)  # type: ignore[attr-defined]


class TxState(Enum):
    """A transaction checker's answer."""

    COMMIT = "commit"
    ROLLBACK = "rollback"
    UNKNOWN = "unknown"


class Consumer:
    """A consumer plugin: a batch of messages in, one ``Outcome`` per message out.

    Override ``handle`` (the whole batch), or ``handle_message`` (one message at a
    time; the default ``handle`` calls it for each). An exception fails the whole batch:
    it is logged, and the broker retries the batch's messages.

    The broker creates one object of the class per instance, and calls it one batch
    at a time: attributes survive between calls of an instance (a cache, counters...),
    not across instances or restarts (use :mod:`weir.state` for that).
    """

    def handle(self, config: str, batch: list[Message]) -> list[Outcome]:
        return [self.handle_message(config, message) for message in batch]

    def handle_message(self, config: str, message: Message) -> Outcome:
        raise NotImplementedError(f"{type(self).__name__} overrides neither handle nor handle_message")


class DedupFilter:
    """A dedup filter: ``dedup_key`` answers the business identity of a message
    (``None``: never a duplicate). The broker keeps the table of keys seen within the
    binding's window."""

    def dedup_key(self, config: str, message: Message) -> Optional[str]:
        raise NotImplementedError(f"{type(self).__name__} does not override dedup_key")


class TxChecker:
    """A transaction checker: ``check`` answers the ``TxState`` of the transaction of a
    half message whose producer has not decided (``checks``: check-backs so far)."""

    def check(self, config: str, half: Message, checks: int) -> TxState:
        raise NotImplementedError(f"{type(self).__name__} does not override check")


#: The class registered for each world's export, by base class.
REGISTERED: dict[type, type] = {}


def _register(base: type, cls: type) -> type:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise TypeError(f"export_{_SNAKE[base]} takes a subclass of weir.{base.__name__}, not {cls!r}")
    previous = REGISTERED.get(base)
    if previous is not None and previous is not cls:
        raise TypeError(f"{previous.__name__} is already exported as the {_SNAKE[base]}")
    REGISTERED[base] = cls
    return cls


_SNAKE = {Consumer: "consumer", DedupFilter: "dedup_filter", TxChecker: "tx_checker"}


def export_consumer(cls: type) -> type:
    """Makes ``cls`` (a ``weir.Consumer``) the plugin's consumer; usable as a class
    decorator."""
    return _register(Consumer, cls)


def export_dedup_filter(cls: type) -> type:
    """Makes ``cls`` (a ``weir.DedupFilter``) the plugin's dedup filter."""
    return _register(DedupFilter, cls)


def export_tx_checker(cls: type) -> type:
    """Makes ``cls`` (a ``weir.TxChecker``) the plugin's transaction checker."""
    return _register(TxChecker, cls)


class ConfigCache(Generic[T]):
    """The parsed form of the last config string seen: the broker passes the binding's
    config to every call, so a plugin that parses it keeps the result and parses again
    only when the string changes (a binding updated in place).

    ``parse`` usually answers the config or an error, and logs the error: it then runs
    once per config string, so a bad config is reported once, not once per call::

        self.config = weir.ConfigCache(parse_or_log)
        ...
        parsed = self.config.get(config)
    """

    __slots__ = ("_parse", "_last")

    def __init__(self, parse: Callable[[str], T]) -> None:
        self._parse = parse
        self._last: Optional[tuple[str, T]] = None

    def get(self, config: str) -> T:
        last = self._last
        if last is not None and last[0] == config:
            return last[1]
        parsed = self._parse(config)
        self._last = (config, parsed)
        return parsed
