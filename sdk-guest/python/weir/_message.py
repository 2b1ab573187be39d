"""``Message``, what the broker hands a plugin; ``Outgoing``, what a consumer publishes;
``Properties``, their user properties: plain Python objects, converted from and to the
WIT records at the boundary."""

from __future__ import annotations

import json as _json
from typing import Any, Iterable, Iterator, Mapping, Optional, Union

from ._host import as_bytes, check_str

PropertiesLike = Union["Properties", Mapping[str, str], Iterable[tuple]]


class Properties:
    """User properties: name/value pairs in order, read and written like a dict.

    ``props["region"]`` and ``props.get("region")`` give the first value of that name;
    ``props["region"] = "eu"`` replaces it in place (or appends a new pair);
    ``del props["region"]`` drops every pair of that name. ``items()`` lists every pair
    in order, duplicates included; ``add`` appends a pair even if the name exists.
    """

    __slots__ = ("_pairs",)

    def __init__(self, pairs: PropertiesLike | None = None) -> None:
        self._pairs: list[tuple[str, str]] = []
        if pairs is None:
            return
        if isinstance(pairs, Properties):
            items: Iterable[tuple] = pairs._pairs
        elif isinstance(pairs, Mapping):
            items = pairs.items()
        else:
            items = pairs
        for name, value in items:
            self.add(name, value)

    @classmethod
    def _trusted(cls, pairs: list) -> "Properties":
        """Wraps pairs the host delivered (already (str, str) tuples), without copying
        or checking them."""
        props = cls.__new__(cls)
        props._pairs = pairs
        return props

    def add(self, name: str, value: str) -> None:
        """Appends ``name: value``, keeping earlier pairs of the same name."""
        self._pairs.append((check_str("a property name", name), check_str("a property value", value)))

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of ``name``, or ``default``."""
        for key, value in self._pairs:
            if key == name:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        return [value for key, value in self._pairs if key == name]

    def __getitem__(self, name: str) -> str:
        for key, value in self._pairs:
            if key == name:
                return value
        raise KeyError(name)

    def __setitem__(self, name: str, value: str) -> None:
        check_str("a property value", value)
        for index, (key, _) in enumerate(self._pairs):
            if key == name:
                self._pairs[index] = (key, value)
                return
        self.add(name, value)

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self.remove(name)

    def remove(self, name: str) -> None:
        """Drops every pair called ``name`` (none: nothing happens)."""
        self._pairs = [pair for pair in self._pairs if pair[0] != name]

    def pop(self, name: str, default: Any = KeyError) -> Any:
        """Removes ``name``, answering its first value (or ``default``)."""
        value = self.get(name)
        if value is None:
            if default is KeyError:
                raise KeyError(name)
            return default
        self.remove(name)
        return value

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self._pairs)

    def __iter__(self) -> Iterator[str]:
        seen = set()
        for key, _ in self._pairs:
            if key not in seen:
                seen.add(key)
                yield key

    def keys(self) -> list[str]:
        return list(self)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def to_list(self) -> list[tuple[str, str]]:
        """The pairs, in order, as the WIT record carries them."""
        return list(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Properties):
            return self._pairs == other._pairs
        if isinstance(other, Mapping):
            return self._pairs == list(other.items())
        if isinstance(other, list):
            return self._pairs == [tuple(pair) for pair in other]
        return NotImplemented

    def __repr__(self) -> str:
        return f"Properties({self._pairs!r})"


class _Body:
    """Helpers shared by messages in and out: the body as text or JSON."""

    __slots__ = ()
    body: bytes

    def text(self, errors: str = "strict") -> str:
        """The body decoded as UTF-8 (``UnicodeDecodeError`` when it is not, unless
        ``errors`` says otherwise, as for ``bytes.decode``)."""
        return self.body.decode("utf-8", errors)

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` when it is not JSON)."""
        return _json.loads(self.body)


class Message(_Body):
    """A message as the broker hands it to a plugin.

    For a transaction checker, it is the half message of the transaction and ``id`` is
    the transaction id; it has no queue and offset yet (both 0).

    Every field can be given by name, so tests build messages as they need:
    ``Message(b'{"id": 1}', id="m-1", properties={"region": "eu"})``; a ``str`` body is
    encoded as UTF-8.
    """

    __slots__ = (
        "id", "topic", "queue", "offset", "keys", "tag", "message_group",
        "properties", "body", "born_ms", "attempt",
    )

    def __init__(
        self,
        body: bytes | str = b"",
        *,
        id: str = "",
        topic: str = "",
        queue: int = 0,
        offset: int = 0,
        keys: Iterable[str] = (),
        tag: Optional[str] = None,
        message_group: Optional[str] = None,
        properties: PropertiesLike | None = None,
        born_ms: int = 0,
        attempt: int = 0,
    ) -> None:
        #: The payload.
        self.body: bytes = as_bytes("body", body)
        #: The message id (the producer's, when it chose one).
        self.id = id
        #: The topic it was sent to.
        self.topic = topic
        #: Its queue in that topic.
        self.queue = queue
        #: Its offset in that queue.
        self.offset = offset
        #: Business keys.
        self.keys: list[str] = list(keys)
        #: The tag, if any.
        self.tag = tag
        #: The message group (sharding key of FIFO delivery), if any.
        self.message_group = message_group
        #: User properties, in order.
        self.properties = Properties(properties)
        #: When the producer created it, ms since the Unix epoch.
        self.born_ms = born_ms
        #: Which delivery this is to the consumer, from 1 (0 outside consumers).
        self.attempt = attempt

    @classmethod
    def _from_wit(cls, message: Any) -> "Message":
        # The per-message cost of a batch: no checks or copies, the host's values are
        # fresh and well typed.
        self = cls.__new__(cls)
        self.body = message.body
        self.id = message.id
        self.topic = message.topic
        self.queue = message.queue
        self.offset = message.offset
        self.keys = message.keys
        self.tag = message.tag
        self.message_group = message.message_group
        self.properties = Properties._trusted(message.properties)
        self.born_ms = message.born_ms
        self.attempt = message.attempt
        return self

    def to_outgoing(self, topic: str) -> "Outgoing":
        """An ``Outgoing`` message to ``topic`` with a copy of this message's keys, tag,
        message group, properties and body."""
        return Outgoing(
            topic,
            self.body,
            keys=self.keys,
            tag=self.tag,
            message_group=self.message_group,
            properties=self.properties,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in Message.__slots__)

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, topic={self.topic!r}, body={self.body!r})"


class _Delivered(Message):
    """A message the broker delivered: the class componentize-py lifts the WIT record
    into (weir._component puts it in the bindings in place of their dataclass), so a
    batch reaches the plugin without a conversion per message. The fields arrive in the
    record's order, fresh and well typed; the properties are wrapped in a ``Properties``
    on first use (most consumers never read them)."""

    __slots__ = ("_pairs", "_props")

    def __init__(
        self, id, topic, queue, offset, keys, tag, message_group, properties, body, born_ms, attempt
    ) -> None:
        self.id = id
        self.topic = topic
        self.queue = queue
        self.offset = offset
        self.keys = keys
        self.tag = tag
        self.message_group = message_group
        self._pairs = properties
        self.body = body
        self.born_ms = born_ms
        self.attempt = attempt

    @property  # type: ignore[override]
    def properties(self) -> Any:
        try:
            return self._props
        except AttributeError:
            props = self._props = Properties._trusted(self._pairs)
            return props

    @properties.setter
    def properties(self, value: Any) -> None:
        self._props = value


class Outgoing(_Body):
    """A message a consumer publishes with :func:`weir.publish`.

    ``Outgoing("audit", "order 1001 shipped", keys=["order-1001"], tag="shipped",
    properties={"source": "forwarder"})``; every field is a plain attribute afterwards.
    """

    __slots__ = ("topic", "body", "keys", "tag", "message_group", "properties")

    def __init__(
        self,
        topic: str,
        body: bytes | str = b"",
        *,
        keys: Iterable[str] = (),
        tag: Optional[str] = None,
        message_group: Optional[str] = None,
        properties: PropertiesLike | None = None,
    ) -> None:
        #: The topic to send to.
        self.topic = topic
        #: The payload.
        self.body: bytes = as_bytes("body", body)
        #: Business keys.
        self.keys: list[str] = list(keys)
        #: The tag, if any.
        self.tag = tag
        #: The message group, if any.
        self.message_group = message_group
        #: User properties.
        self.properties = Properties(properties)

    def _checked(self) -> "Outgoing":
        """Itself, after checking every field has the type the WIT record needs (so a
        mistake is a clear ``TypeError``, not a trap in the bindings)."""
        check_str("Outgoing.topic", self.topic)
        self.body = as_bytes("Outgoing.body", self.body)
        for key in self.keys:
            check_str("a key", key)
        if self.tag is not None:
            check_str("Outgoing.tag", self.tag)
        if self.message_group is not None:
            check_str("Outgoing.message_group", self.message_group)
        if not isinstance(self.properties, Properties):
            self.properties = Properties(self.properties)
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outgoing):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self) -> str:
        return f"Outgoing(topic={self.topic!r}, body={self.body!r})"
