"""The boundary to the host: the broker's imports inside a component, the in-memory
double of :mod:`weir.testing` anywhere else.

Every host call of the SDK goes through :data:`HOST`, an object with the functions of
the WIT ``host`` interface taking and answering plain Python values; failures of the
host (the ``err`` of a WIT ``result``) become :class:`HostError`.
"""

from __future__ import annotations

import sys

IN_COMPONENT = sys.platform == "wasi"

U64_MAX = (1 << 64) - 1


class HostError(Exception):
    """A host service refused or failed a request; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_u64(name: str, value: object) -> int:
    """``value`` as a WIT ``u64``, or a ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= U64_MAX:
        raise ValueError(f"{name} must be within 0..2**64-1, not {value}")
    return value


def as_bytes(name: str, value: object) -> bytes:
    """``value`` as bytes: ``str`` is encoded as UTF-8, bytes-like values are copied."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{name} must be bytes or str, not {type(value).__name__}")


def check_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


class _ComponentHost:
    """The broker's imports, through the bindings componentize-py generates."""

    def __init__(self) -> None:
        from componentize_py_types import Err
        from wit_world.imports import host, types

        self._host = host
        self._types = types
        self._err = Err
        self._levels = list(host.Level)

    def log(self, level: int, message: str) -> None:
        self._host.log(self._levels[level], message)

    def now_ms(self) -> int:
        return self._host.now_ms()

    def state_get(self, key: str) -> bytes | None:
        return self._host.state_get(key)

    def state_set(self, key: str, value: bytes, ttl_ms: int) -> None:
        try:
            self._host.state_set(key, value, ttl_ms)
        except self._err as error:
            raise HostError(str(error.value)) from None

    def state_delete(self, key: str) -> None:
        self._host.state_delete(key)

    def publish(self, message) -> str:
        outgoing = self._types.Outgoing(
            topic=message.topic,
            keys=list(message.keys),
            tag=message.tag,
            message_group=message.message_group,
            properties=message.properties.to_list(),
            body=message.body,
        )
        try:
            return self._host.publish(outgoing)
        except self._err as error:
            raise HostError(str(error.value)) from None

    def http_request(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, bytes]:
        try:
            return self._host.http_request(method, url, headers, body)
        except self._err as error:
            raise HostError(str(error.value)) from None


class _Host:
    """Picks the real host or the double on first use (the bindings only exist inside
    a component, and only once componentize-py generated them)."""

    _impl = None

    def __getattr__(self, name: str):
        if _Host._impl is None:
            if IN_COMPONENT:
                _Host._impl = _ComponentHost()
            else:
                from . import testing

                _Host._impl = testing._FAKE
        return getattr(_Host._impl, name)


HOST = _Host()
