"""``urllib.request`` over ``wasi:http``: Python's own HTTP client in a plugin.

CPython under WASI has no sockets, so ``urllib.request.urlopen`` cannot connect by
itself. In a component built by the SDK's recipe (which imports
``wasi:http/outgoing-handler``), the SDK installs an opener whose handler sends
``http:`` and ``https:`` requests through ``wasi:http`` instead, and plugin code is
ordinary urllib::

    import json
    import urllib.request

    request = urllib.request.Request(
        "http://orders.internal:9000/check", data=json.dumps(body).encode(),
        headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = json.load(response)

The broker sends the request for the plugin, under the same rules as
:mod:`weir.http`: only to URLs on the binding's allowlist, within its limits and the
call's deadline. Errors are urllib's: a status that is not 2xx raises
``urllib.error.HTTPError`` (whose ``code``, ``headers`` and ``read()`` still give the
answer); a request that gets no answer, the broker's refusal included, raises
``urllib.error.URLError`` whose ``reason`` is a :class:`WasiHttpError` naming the
``wasi:http`` error code (``HTTP-request-denied`` for a URL off the allowlist).
Redirects are followed as urllib does, each one also under the allowlist.

The opener is installed once ``urllib.request`` is imported (by the plugin or a module
it uses, at module level: componentize-py bundles the modules imported while it builds,
and one imported first inside a call is not found), so a plugin that does not use
urllib does not carry it. Outside a component
(native tests) nothing is installed and urllib uses real sockets, so tests can run
against a local ``http.server``. :func:`install` and :func:`build_opener` are for
plugins that build openers of their own; :func:`available` tells whether the bindings
are there.

How a request goes, all of it blocking: an ``outgoing-request`` with the method,
scheme, authority, path and headers; ``outgoing-handler.handle``; the body, if any,
written to the request's ``output-stream`` in writes of at most 4096 bytes, then
finished; a wait on the ``future-incoming-response``; then the status, the headers, and
the whole body, read until the stream closes and at most ``max_answer`` bytes. The
answer is read before ``urlopen`` returns, so a response holds no host resources.
Headers the host sets itself (``Host``, ``Connection``, ``Transfer-Encoding``...) are
left out: the host frames the body and sets ``Host`` from the URL.
"""

from __future__ import annotations

import http.client
import io
import sys
import urllib.error
import urllib.request
import urllib.response
from types import SimpleNamespace
from typing import Any, Iterable, Optional

__all__ = [
    "MAX_ANSWER",
    "WasiHttpError",
    "WasiHttpHandler",
    "WasiHttpResponse",
    "WasiHttpTimeout",
    "available",
    "build_opener",
    "install",
]

#: The most bytes of an answer read by default: the broker's own answer limit (4 MiB).
MAX_ANSWER = 4 * 1024 * 1024

#: The most bytes one blocking write of a ``wasi:io`` output stream may take.
_WRITE_CHUNK = 4096

#: The most bytes asked of one blocking read.
_READ_CHUNK = 64 * 1024

#: Headers a ``wasi:http`` host refuses from a guest: it sets them itself.
_HOST_HEADERS = frozenset(
    {
        "connection",
        "host",
        "http2-settings",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    }
)

#: ``wasi:http`` error codes that mean the answer did not come in time.
_TIMEOUTS = frozenset(
    {
        "DNS-timeout",
        "connection-timeout",
        "connection-read-timeout",
        "connection-write-timeout",
        "HTTP-response-timeout",
    }
)


class WasiHttpError(OSError):
    """Why a request got no answer: ``code`` is the ``wasi:http`` error code
    (``"HTTP-request-denied"``, ``"connection-refused"``...), ``detail`` what the host
    added, if anything. It is the ``reason`` of the ``URLError`` urllib raises."""

    def __init__(self, code: str, detail: Optional[str] = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class WasiHttpTimeout(WasiHttpError, TimeoutError):
    """A ``WasiHttpError`` for an answer that did not come in time."""


class WasiHttpResponse(urllib.response.addinfourl):
    """An answer, as ``urlopen`` returns it: ``status`` (and ``code``), ``reason`` (and
    ``msg``), ``headers``, ``url``; ``read()``, ``readline()``, iteration; a context
    manager. The body is in memory."""

    def __init__(self, url: str, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
        super().__init__(io.BytesIO(body), headers, url, status)
        #: The reason phrase of the status (``wasi:http`` does not carry the server's).
        self.reason = http.client.responses.get(status, "")
        #: urllib's name for the reason phrase.
        self.msg = self.reason
        #: The length of the body.
        self.length = len(body)
        self.version = 11

    def getheader(self, name: str, default: Any = None) -> Any:
        values = self.headers.get_all(name)
        return ", ".join(values) if values else default

    def getheaders(self) -> list[tuple[str, str]]:
        return list(self.headers.items())


def _bindings() -> Optional[SimpleNamespace]:
    """The ``wasi:http`` bindings componentize-py generated, or ``None``."""
    try:
        from componentize_py_types import Err
        from wit_world.imports import outgoing_handler, streams
    except ImportError:
        return None
    try:
        from wit_world.imports import wasi_http_types as types
    except ImportError:
        # Named plainly when no other interface of the world is called `types`.
        from wit_world.imports import types  # type: ignore[no-redef]

        if not hasattr(types, "OutgoingRequest"):
            return None
    return SimpleNamespace(Err=Err, handler=outgoing_handler, streams=streams, types=types)


def available() -> bool:
    """Whether this component can send requests over ``wasi:http`` (false natively,
    and in a component whose world does not import ``wasi:http/outgoing-handler``)."""
    return sys.platform == "wasi" and _bindings() is not None


def _error_code(value: Any) -> WasiHttpError:
    """The ``WasiHttpError`` of a ``wasi:http`` ``error-code`` value."""
    name = type(value).__name__.partition("_")[2] or type(value).__name__
    # ErrorCode_HttpRequestDenied -> HTTP-request-denied, as the WIT names it.
    words = []
    for char in name:
        if char.isupper() and words:
            words.append("-")
        words.append(char.lower())
    code = "".join(words)
    for acronym in ("http", "dns", "tls"):
        if code.startswith(acronym + "-"):
            code = acronym.upper() + code[len(acronym) :]
    code = code.replace("-uri-", "-URI-")
    detail = getattr(value, "value", None)
    if hasattr(detail, "__dict__"):
        detail = ", ".join(f"{k}={v}" for k, v in vars(detail).items() if v is not None) or None
    elif detail is not None:
        detail = str(detail)
    cls = WasiHttpTimeout if code in _TIMEOUTS else WasiHttpError
    return cls(code, detail)


def _body_chunks(data: Any) -> Iterable[bytes]:
    """The request body in pieces of at most 4096 bytes: bytes-like data, a file object
    (``read``) or an iterable of bytes-like pieces, as urllib accepts."""
    if hasattr(data, "read"):
        while True:
            piece = data.read(_WRITE_CHUNK)
            if not piece:
                return
            if isinstance(piece, str):
                piece = piece.encode("iso-8859-1")
            yield bytes(piece)
    else:
        pieces = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
        for piece in pieces:
            if isinstance(piece, str):
                piece = piece.encode("iso-8859-1")
            view = memoryview(piece).cast("B")
            for start in range(0, len(view), _WRITE_CHUNK):
                yield bytes(view[start : start + _WRITE_CHUNK])


class WasiHttpHandler(urllib.request.HTTPHandler):
    """A urllib handler that sends ``http:`` and ``https:`` requests over
    ``wasi:http/outgoing-handler``.

    ``max_answer`` bounds the bytes of an answer read (more fails the request with a
    ``URLError``); ``bindings`` is for tests, which give a stand-in for the generated
    modules.
    """

    def __init__(self, max_answer: int = MAX_ANSWER, bindings: Optional[SimpleNamespace] = None) -> None:
        super().__init__()
        self.max_answer = max_answer
        self._wasi = bindings

    # urllib's preprocessing (Content-Type, Content-Length, User-Agent) for both schemes.
    https_request = urllib.request.AbstractHTTPHandler.do_request_

    def http_open(self, req: urllib.request.Request) -> WasiHttpResponse:
        return self._open(req)

    def https_open(self, req: urllib.request.Request) -> WasiHttpResponse:
        return self._open(req)

    def _open(self, req: urllib.request.Request) -> WasiHttpResponse:
        wasi = self._wasi
        if wasi is None:
            wasi = self._wasi = _bindings()
            if wasi is None:
                raise urllib.error.URLError("this component does not import wasi:http/outgoing-handler")
        authority = req.host.rpartition("@")[2]
        if not authority:
            raise urllib.error.URLError("no host given")
        request = wasi.types.OutgoingRequest(self._fields(wasi, req))
        try:
            self._set(request.set_method, self._method(wasi, req.get_method()), "method", req)
            scheme = wasi.types.Scheme_Https() if req.type == "https" else wasi.types.Scheme_Http()
            self._set(request.set_scheme, scheme, "scheme", req)
            self._set(request.set_authority, authority, "authority", req)
            self._set(request.set_path_with_query, req.selector or "/", "path", req)
            body = request.body() if req.data is not None else None
        except BaseException:
            request.__exit__(None, None, None)
            raise
        try:
            # handle() takes the request; the body is written after it, while the host
            # reads it (it buffers only a few writes).
            future = wasi.handler.handle(request, self._options(wasi, req.timeout))
        except wasi.Err as error:
            if body is not None:
                body.__exit__(None, None, None)
            raise urllib.error.URLError(_error_code(error.value)) from None
        with future:
            failure = self._send_body(wasi, body, req.data) if body is not None else None
            with future.subscribe() as ready:
                ready.block()
            answer = future.get()
        if answer is None or isinstance(answer, wasi.Err):
            raise urllib.error.URLError("wasi:http gave no answer")
        if isinstance(answer.value, wasi.Err):
            raise urllib.error.URLError(_error_code(answer.value.value))
        if failure is not None:
            # The request went out whole or not at all; an answer despite a failed
            # write means the host cut the body short.
            answer.value.value.__exit__(None, None, None)
            raise urllib.error.URLError(failure)
        with answer.value.value as response:
            status = response.status()
            with response.headers() as fields:
                entries = fields.entries()
            with response.consume() as incoming:
                with incoming.stream() as stream:
                    data = self._read(wasi, stream)
        headers = http.client.HTTPMessage()
        for name, value in entries:
            headers[name] = value.decode("iso-8859-1")
        return WasiHttpResponse(req.full_url, status, headers, data)

    @staticmethod
    def _set(setter: Any, value: Any, what: str, req: urllib.request.Request) -> None:
        try:
            setter(value)
        except Exception:
            raise urllib.error.URLError(f"invalid {what} for wasi:http in {req.full_url!r}") from None

    @staticmethod
    def _method(wasi: SimpleNamespace, method: str) -> Any:
        known = {
            "GET": "Method_Get", "HEAD": "Method_Head", "POST": "Method_Post", "PUT": "Method_Put",
            "DELETE": "Method_Delete", "CONNECT": "Method_Connect", "OPTIONS": "Method_Options",
            "TRACE": "Method_Trace", "PATCH": "Method_Patch",
        }  # fmt: skip
        name = known.get(method)
        return getattr(wasi.types, name)() if name else wasi.types.Method_Other(method)

    @staticmethod
    def _fields(wasi: SimpleNamespace, req: urllib.request.Request) -> Any:
        # As urllib's do_open merges them: unredirected headers win.
        headers = dict(req.unredirected_hdrs)
        headers.update({k: v for k, v in req.headers.items() if k not in headers})
        entries = []
        for name, value in headers.items():
            if name.lower() in _HOST_HEADERS:
                continue
            if isinstance(value, str):
                value = value.encode("iso-8859-1")
            elif isinstance(value, int):
                value = str(value).encode("ascii")
            entries.append((name.lower(), bytes(value)))
        try:
            return wasi.types.Fields.from_list(entries)
        except wasi.Err as error:
            raise ValueError(f"invalid request header ({type(error.value).__name__.partition('_')[2]})") from None

    @staticmethod
    def _options(wasi: SimpleNamespace, timeout: Any) -> Any:
        # urllib's default is socket._GLOBAL_DEFAULT_TIMEOUT, a sentinel: no timeout of
        # the plugin's own, the host's applies.
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            return None
        options = wasi.types.RequestOptions()
        nanos = max(0, int(timeout * 1_000_000_000))
        for setter in (options.set_connect_timeout, options.set_first_byte_timeout, options.set_between_bytes_timeout):
            try:
                setter(nanos)
            except wasi.Err:
                pass  # a host that does not take the option keeps its own timeout
        return options

    @staticmethod
    def _send_body(wasi: SimpleNamespace, body: Any, data: Any) -> Optional[WasiHttpError]:
        """Writes and finishes the body; answers why it could not, if it could not."""
        try:
            with body.write() as stream:
                for chunk in _body_chunks(data):
                    stream.blocking_write_and_flush(chunk)
        except wasi.Err as error:
            body.__exit__(None, None, None)
            return WasiHttpError("HTTP-request-body", _stream_error(wasi, error.value))
        except BaseException:
            body.__exit__(None, None, None)
            raise
        try:
            wasi.types.OutgoingBody.finish(body, None)
        except wasi.Err as error:
            return _error_code(error.value)
        return None

    def _read(self, wasi: SimpleNamespace, stream: Any) -> bytes:
        chunks = []
        total = 0
        while True:
            try:
                chunk = stream.blocking_read(min(_READ_CHUNK, self.max_answer - total + 1))
            except wasi.Err as error:
                if isinstance(error.value, wasi.streams.StreamError_Closed):
                    return b"".join(chunks)
                raise urllib.error.URLError(WasiHttpError("HTTP-response-body", _stream_error(wasi, error.value)))
            total += len(chunk)
            if total > self.max_answer:
                raise urllib.error.URLError(f"the answer is over {self.max_answer} bytes")
            chunks.append(chunk)


def _stream_error(wasi: SimpleNamespace, value: Any) -> str:
    """What a ``stream-error`` says."""
    if isinstance(value, wasi.streams.StreamError_Closed):
        return "the stream was closed"
    error = getattr(value, "value", None)
    if error is None:
        return str(value)
    try:
        code = wasi.types.http_error_code(error)
        return str(_error_code(code)) if code is not None else error.to_debug_string()
    finally:
        error.__exit__(None, None, None)


if hasattr(urllib.request, "HTTPSHandler"):

    class _WasiHttpsHandler(urllib.request.HTTPSHandler):
        """Stands in for urllib's TLS handler where ``ssl`` exists, so that ``https:``
        goes to the ``wasi:http`` handler too."""

        def __init__(self, handler: WasiHttpHandler) -> None:
            super().__init__()
            self._handler = handler

        https_request = urllib.request.AbstractHTTPHandler.do_request_

        def https_open(self, req: urllib.request.Request) -> WasiHttpResponse:
            return self._handler.https_open(req)


def build_opener(*handlers: Any, max_answer: int = MAX_ANSWER) -> urllib.request.OpenerDirector:
    """``urllib.request.build_opener(*handlers)``, sending HTTP over ``wasi:http`` when
    :func:`available` (natively, it is urllib's own). Proxies are never used in a
    component: the host makes the connection."""
    if not available():
        return urllib.request.build_opener(*handlers)
    handler = WasiHttpHandler(max_answer)
    extra: list = [urllib.request.ProxyHandler({}), handler]
    if hasattr(urllib.request, "HTTPSHandler"):
        extra.append(_WasiHttpsHandler(handler))
    return urllib.request.build_opener(*extra, *handlers)


def install(max_answer: int = MAX_ANSWER) -> bool:
    """Makes ``urllib.request.urlopen`` send over ``wasi:http``; answers whether it did
    (false natively and without the bindings, where urllib stays as it is). The SDK
    calls it itself when ``urllib.request`` is imported; call it again to change
    ``max_answer``."""
    if not available():
        return False
    urllib.request.install_opener(build_opener(max_answer=max_answer))
    return True
