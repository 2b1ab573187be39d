"""Outbound HTTP through the broker.

The broker makes the request on the plugin's behalf, only to URLs on the binding's
allowlist, under its own timeout and answer size limit; everything else raises
:class:`weir.HostError`. A non-2xx status is not an error: it is in the
:class:`Response`.
"""

from __future__ import annotations

import json as _json
from typing import Any, Iterable, Mapping, Optional, Union

from ._host import HOST, as_bytes, check_str

Headers = Union[Mapping[str, str], Iterable[tuple]]


class Response:
    """The answer to a request: its status and body."""

    __slots__ = ("status", "body")

    def __init__(self, status: int, body: bytes | str = b"") -> None:
        self.status = status
        self.body = as_bytes("body", body)

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def text(self, errors: str = "strict") -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", errors)

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` when it is not JSON)."""
        return _json.loads(self.body)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return (self.status, self.body) == (other.status, other.body)

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body!r})"


def _headers(headers: Optional[Headers]) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(check_str("a header name", name), check_str("a header value", value)) for name, value in items]


def request(method: str, url: str, headers: Optional[Headers] = None, body: bytes | str = b"") -> Response:
    """A ``GET`` or ``POST`` of ``url`` with ``headers`` (a dict or pairs) and ``body``."""
    method = check_str("method", method)
    status, answer = HOST.http_request(method, check_str("url", url), _headers(headers), as_bytes("body", body))
    return Response(status, answer)


def get(url: str, headers: Optional[Headers] = None) -> Response:
    """A ``GET`` of ``url``."""
    return request("GET", url, headers)


def post(url: str, body: bytes | str = b"", headers: Optional[Headers] = None) -> Response:
    """A ``POST`` of ``body`` to ``url``."""
    return request("POST", url, headers, body)
