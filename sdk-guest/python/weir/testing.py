"""A stand-in for the broker, for testing plugins natively with ``python -m unittest``.

Outside a component, the SDK's host services (:mod:`weir.log`, :func:`weir.now_ms`,
:mod:`weir.state`, :func:`weir.publish`, :mod:`weir.http`) talk to this in-memory double
instead of the broker. :func:`reset` starts afresh; :class:`TestCase` does it before
each test.

By default the clock is the system clock, state is unlimited, publishing succeeds
(answering ids ``test-1``, ``test-2``, ...) and every HTTP request fails as not allowed::

    from weir import http, testing

    testing.reset()
    testing.set_now_ms(1_000)
    testing.on_http(lambda call: http.Response(200, "commit")
                    if call.url == "http://svc/tx/1" else http.Response(404))
    # ... call the plugin's handle, dedup_key or check ...
    assert testing.published()[0].topic == "audit"
    assert testing.http_calls()[0].method == "GET"
"""

from __future__ import annotations

import time
import unittest
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from ._host import HostError
from ._message import Outgoing
from .http import Response
from .log import Level


@dataclass
class HttpCall:
    """An HTTP request a plugin made."""

    method: str
    url: str
    headers: list = field(default_factory=list)
    body: bytes = b""


#: Answers a request: a ``Response`` or a ``(status, body)`` pair; raising
#: ``weir.HostError`` fails it as the broker would (e.g. a URL not on the allowlist).
HttpHandler = Callable[[HttpCall], Union[Response, tuple]]


class _FakeHost:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.now: Optional[int] = None
        self.logs: list[tuple[Level, str]] = []
        # key -> (value, expiry in ms or None)
        self.state: dict[str, tuple[bytes, Optional[int]]] = {}
        self.state_error: Optional[str] = None
        self.published: list[Outgoing] = []
        self.publish_error: Optional[str] = None
        self.http: Optional[HttpHandler] = None
        self.http_calls: list[HttpCall] = []

    # The functions of the WIT host interface.

    def log(self, level: int, message: str) -> None:
        self.logs.append((Level(level), message))

    def now_ms(self) -> int:
        return self.now if self.now is not None else time.time_ns() // 1_000_000

    def state_get(self, key: str) -> Optional[bytes]:
        entry = self.state.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and expires <= self.now_ms():
            del self.state[key]
            return None
        return value

    def state_set(self, key: str, value: bytes, ttl_ms: int) -> None:
        if self.state_error is not None:
            raise HostError(self.state_error)
        expires = self.now_ms() + ttl_ms if ttl_ms > 0 else None
        self.state[key] = (bytes(value), expires)

    def state_delete(self, key: str) -> None:
        self.state.pop(key, None)

    def publish(self, message: Outgoing) -> str:
        if self.publish_error is not None:
            raise HostError(self.publish_error)
        self.published.append(
            Outgoing(
                message.topic,
                message.body,
                keys=message.keys,
                tag=message.tag,
                message_group=message.message_group,
                properties=message.properties,
            )
        )
        return f"test-{len(self.published)}"

    def http_request(self, method: str, url: str, headers: list, body: bytes) -> tuple[int, bytes]:
        call = HttpCall(method, url, list(headers), bytes(body))
        self.http_calls.append(call)
        if self.http is None:
            raise HostError(f"{url} is not on the binding's allowlist")
        answer = self.http(call)
        if isinstance(answer, Response):
            return answer.status, answer.body
        status, answer_body = answer
        response = Response(status, answer_body)
        return response.status, response.body


_FAKE = _FakeHost()


def reset() -> None:
    """Forgets everything: logs, state, published messages, HTTP calls and settings."""
    _FAKE.reset()


def set_now_ms(ms: Optional[int]) -> None:
    """Fixes the clock at ``ms`` since the Unix epoch (state expiry follows it);
    ``None`` goes back to the system clock."""
    _FAKE.now = ms


def advance_ms(ms: int) -> None:
    """Moves the fixed clock ``ms`` forward (fixing it at the current time first)."""
    _FAKE.now = _FAKE.now_ms() + ms


def logs() -> list[tuple[Level, str]]:
    """The lines logged so far, oldest first, as ``(level, message)``."""
    return list(_FAKE.logs)


def published() -> list[Outgoing]:
    """The messages published so far, oldest first."""
    return list(_FAKE.published)


def state() -> dict[str, bytes]:
    """The state entries not expired, by key."""
    return {key: value for key in list(_FAKE.state) if (value := _FAKE.state_get(key)) is not None}


def fail_publish(reason: Optional[str]) -> None:
    """Makes every following publish fail with ``reason`` (``None``: succeed again)."""
    _FAKE.publish_error = reason


def fail_state_set(reason: Optional[str]) -> None:
    """Makes every following state write fail with ``reason``, as a full quota would
    (``None``: succeed again)."""
    _FAKE.state_error = reason


def on_http(handler: Optional[HttpHandler]) -> None:
    """Answers the following HTTP requests with ``handler`` (``None``: fail them)."""
    _FAKE.http = handler


def http_calls() -> list[HttpCall]:
    """The HTTP requests made so far, oldest first."""
    return list(_FAKE.http_calls)


class TestCase(unittest.TestCase):
    """A ``unittest.TestCase`` that resets the double before each test."""

    def setUp(self) -> None:
        super().setUp()
        reset()
