"""urllib over wasi:http, natively: the handler of ``weir.wasi_http`` drives a stand-in
for the generated wasi:http bindings, which performs each request with ``http.client``
against a local ``http.server``. The stand-in checks what a wasi:http host checks: writes
of at most 4096 bytes, no forbidden headers, a finished body, child resources dropped
before their parents, and every resource dropped in the end."""

from __future__ import annotations

import http.client
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import unittest
import urllib.error
import urllib.request
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Optional

from weir import wasi_http

# --- the stand-in for the bindings ----------------------------------------------------


@dataclass
class Ok:
    value: Any


@dataclass(frozen=True)
class Err(Exception):
    value: Any


def _variant(name: str, *fields: str) -> type:
    def init(self, *values):
        for field, value in zip(fields, values):
            setattr(self, field, value)

    def eq(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    return type(name, (), {"__init__": init, "__eq__": eq, "__repr__": lambda self: f"{name}{vars(self)}"})


METHODS = ["Get", "Head", "Post", "Put", "Delete", "Connect", "Options", "Trace", "Patch"]
FORBIDDEN = {"connection", "host", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}


class FakeWasi:
    """The generated modules, as ``weir.wasi_http`` uses them."""

    def __init__(self) -> None:
        self.live: list = []  # resources not dropped yet
        self.writes: list[int] = []  # the size of each body write
        self.sent: list[dict] = []  # the requests made
        self.refuse: Optional[Any] = None  # an error code handle() raises
        self.fail: Optional[Any] = None  # an error code the future answers
        self.options: list = []
        wasi = self

        class Resource:
            def __init__(self, parent=None):
                self.parent, self.children, self.dropped = parent, [], False
                if parent is not None:
                    parent.children.append(self)
                wasi.live.append(self)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.drop()

            def drop(self):
                assert not self.dropped, f"{type(self).__name__} dropped twice"
                assert all(child.dropped for child in self.children), f"{type(self).__name__} dropped before its children"
                self.dropped = True
                wasi.live.remove(self)

        class Fields(Resource):
            def __init__(self, entries=(), parent=None):
                super().__init__(parent)
                self._entries = list(entries)

            @classmethod
            def from_list(cls, entries):
                for name, value in entries:
                    if name.lower() in FORBIDDEN:
                        raise Err(types.HeaderError_Forbidden())
                    if not name or any(c in name for c in " :\r\n") or b"\n" in value:
                        raise Err(types.HeaderError_InvalidSyntax())
                return cls(entries)

            def entries(self):
                return list(self._entries)

        class OutgoingRequest(Resource):
            def __init__(self, fields):
                super().__init__()
                fields.drop()  # owned by the request from now on
                self.headers, self.method, self.scheme, self.authority, self.path = fields._entries, None, None, None, None
                self.outgoing = None

            def set_method(self, method):
                self.method = method

            def set_scheme(self, scheme):
                self.scheme = scheme

            def set_authority(self, authority):
                if "/" in authority:
                    raise Err(None)
                self.authority = authority

            def set_path_with_query(self, path):
                self.path = path

            def body(self):
                assert self.outgoing is None, "body() called twice"
                self.outgoing = OutgoingBody()
                return self.outgoing

        class OutputStream(Resource):
            def blocking_write_and_flush(self, contents):
                assert isinstance(contents, bytes)
                assert len(contents) <= 4096, f"a write of {len(contents)} bytes"
                wasi.writes.append(len(contents))
                self.parent.data += contents

        class OutgoingBody(Resource):
            def __init__(self):
                super().__init__()
                self.data, self.finished = b"", False

            def write(self):
                return OutputStream(self)

            @classmethod
            def finish(cls, this, trailers):
                assert trailers is None
                this.drop()
                this.finished = True

        class RequestOptions(Resource):
            def __init__(self):
                super().__init__()
                wasi.options.append(self)
                self.timeouts = {}

            def set_connect_timeout(self, ns):
                self.timeouts["connect"] = ns

            def set_first_byte_timeout(self, ns):
                self.timeouts["first_byte"] = ns

            def set_between_bytes_timeout(self, ns):
                self.timeouts["between_bytes"] = ns

        class Pollable(Resource):
            def block(self):
                pass

        class InputStream(Resource):
            def __init__(self, parent, data):
                super().__init__(parent)
                self.data = data

            def blocking_read(self, n):
                assert n > 0
                if not self.data:
                    raise Err(streams.StreamError_Closed())
                chunk, self.data = self.data[:n], self.data[n:]
                return chunk

        class IncomingBody(Resource):
            def stream(self):
                return InputStream(self, self.parent.body)

        class IncomingResponse(Resource):
            def __init__(self, status, headers, body):
                super().__init__()
                self._status, self._headers, self.body = status, headers, body

            def status(self):
                return self._status

            def headers(self):
                return Fields(self._headers, parent=self)

            def consume(self):
                return IncomingBody(self)

        class FutureIncomingResponse(Resource):
            def __init__(self, request):
                super().__init__()
                self.request, self.taken = request, False

            def subscribe(self):
                return Pollable(self)

            def get(self):
                if self.taken:
                    return Err(None)
                self.taken = True
                if wasi.fail is not None:
                    return Ok(Err(wasi.fail))
                return Ok(Ok(wasi.exchange(self.request)))

        types = SimpleNamespace(
            Fields=Fields,
            OutgoingRequest=OutgoingRequest,
            OutgoingBody=OutgoingBody,
            RequestOptions=RequestOptions,
            Scheme_Http=_variant("Scheme_Http"),
            Scheme_Https=_variant("Scheme_Https"),
            Scheme_Other=_variant("Scheme_Other", "value"),
            Method_Other=_variant("Method_Other", "value"),
            HeaderError_Forbidden=_variant("HeaderError_Forbidden"),
            HeaderError_InvalidSyntax=_variant("HeaderError_InvalidSyntax"),
            ErrorCode_HttpRequestDenied=_variant("ErrorCode_HttpRequestDenied"),
            ErrorCode_ConnectionRefused=_variant("ErrorCode_ConnectionRefused"),
            ErrorCode_HttpResponseTimeout=_variant("ErrorCode_HttpResponseTimeout"),
            ErrorCode_HttpRequestUriInvalid=_variant("ErrorCode_HttpRequestUriInvalid"),
            ErrorCode_InternalError=_variant("ErrorCode_InternalError", "value"),
            ErrorCode_HttpRequestBodySize=_variant("ErrorCode_HttpRequestBodySize", "value"),
        )
        for method in METHODS:
            setattr(types, f"Method_{method}", _variant(f"Method_{method}"))
        streams = SimpleNamespace(
            StreamError_Closed=_variant("StreamError_Closed"),
            StreamError_LastOperationFailed=_variant("StreamError_LastOperationFailed", "value"),
        )

        def handle(request, options):
            request.drop()  # owned by the host from now on
            if options is not None:
                options.drop()
            if wasi.refuse is not None:
                raise Err(wasi.refuse)
            return FutureIncomingResponse(request)

        self.types, self.streams, self.IncomingResponse = types, streams, IncomingResponse
        self.bindings = SimpleNamespace(Err=Err, handler=SimpleNamespace(handle=handle), streams=streams, types=types)

    def exchange(self, request) -> Any:
        """Sends ``request`` with http.client, as the host would."""
        outgoing = request.outgoing
        assert outgoing is None or outgoing.finished, "the body was not finished"
        method = request.method
        name = method.value if hasattr(method, "value") else type(method).__name__.split("_")[1].upper()
        body = outgoing.data if outgoing is not None else None
        self.sent.append(
            {"method": name, "scheme": type(request.scheme).__name__, "authority": request.authority,
             "path": request.path, "headers": request.headers, "body": body}
        )  # fmt: skip
        connection = http.client.HTTPConnection(request.authority, timeout=10)
        try:
            connection.request(name, request.path, body=body, headers=dict((k, v.decode("latin-1")) for k, v in request.headers))
            answer = connection.getresponse()
            headers = [(k.lower(), v.encode("latin-1")) for k, v in answer.getheaders()]
            return self.IncomingResponse(answer.status, headers, answer.read())
        finally:
            connection.close()


# --- the service ----------------------------------------------------------------------


class Service(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self, status, body, headers=()):
        body = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._route()

    def do_POST(self):
        self._route()

    def do_PUT(self):
        self._route()

    def _route(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        if self.path.startswith("/echo"):
            echo = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("latin-1")}  # fmt: skip
            self._answer(200, json.dumps(echo), [("x-twice", "a"), ("x-twice", "b")])
        elif self.path == "/missing":
            self._answer(404, "no such thing")
        elif self.path == "/redirect":
            self._answer(302, "", [("location", "/echo?from=redirect")])
        elif self.path.startswith("/bytes/"):
            self._answer(200, b"x" * int(self.path.rsplit("/", 1)[1]))
        else:
            self._answer(500, "?")


class WasiHttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Service)
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}"
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        self.wasi = FakeWasi()
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), wasi_http.WasiHttpHandler(bindings=self.wasi.bindings))

    def tearDown(self):
        self.assertEqual(self.wasi.live, [], "every resource is dropped")

    def open(self, *args, **kwargs):
        return self.opener.open(*args, **kwargs)

    def test_a_get_answers_status_headers_and_body(self):
        with self.open(self.base + "/echo?a=1") as response:
            self.assertEqual((response.status, response.code, response.getcode()), (200, 200, 200))
            self.assertEqual((response.reason, response.msg), ("OK", "OK"))
            self.assertEqual(response.headers.get_all("x-twice"), ["a", "b"])
            self.assertEqual(response.getheader("X-Twice"), "a, b")
            self.assertEqual(response.url, self.base + "/echo?a=1")
            echo = json.load(response)
        self.assertEqual((echo["method"], echo["path"]), ("GET", "/echo?a=1"))
        sent = self.wasi.sent[0]
        self.assertEqual(sent["scheme"], "Scheme_Http")
        self.assertEqual(sent["authority"], self.base[len("http://") :])
        self.assertIsNone(sent["body"], "a GET has no body")
        names = [name for name, _ in sent["headers"]]
        self.assertIn("user-agent", names)
        self.assertNotIn("host", names, "the host sets Host itself")
        self.assertNotIn("connection", names)

    def test_a_post_writes_its_body_in_pieces_of_at_most_4096_bytes(self):
        body = bytes(range(256)) * 40  # 10240 bytes
        request = urllib.request.Request(self.base + "/echo", data=body, headers={"Content-Type": "application/octet-stream", "X-Token": "s3cret"})
        with self.open(request) as response:
            echo = json.load(response)
        self.assertEqual(echo["method"], "POST")
        self.assertEqual(echo["body"].encode("latin-1"), body)
        self.assertEqual(echo["headers"]["x-token"], "s3cret")
        self.assertEqual(echo["headers"]["content-type"], "application/octet-stream")
        self.assertEqual(echo["headers"]["content-length"], "10240")
        self.assertEqual(self.wasi.writes, [4096, 4096, 2048])

    def test_file_and_iterable_bodies_are_sent_whole(self):
        request = urllib.request.Request(self.base + "/echo", data=io.BytesIO(b"y" * 5000), headers={"Content-Length": "5000"})
        with self.open(request) as response:
            self.assertEqual(json.load(response)["body"], "y" * 5000)
        self.assertEqual(self.wasi.sent[0]["body"], b"y" * 5000)
        request = urllib.request.Request(self.base + "/echo", data=[b"ab", b"c" * 4097], headers={"Content-Length": "4099"}, method="PUT")
        with self.open(request) as response:
            echo = json.load(response)
        self.assertEqual((echo["method"], echo["body"]), ("PUT", "ab" + "c" * 4097))
        self.assertTrue(all(size <= 4096 for size in self.wasi.writes))

    def test_a_status_that_is_not_2xx_raises_http_error_with_the_answer(self):
        with self.assertRaises(urllib.error.HTTPError) as raised:
            self.open(self.base + "/missing")
        error = raised.exception
        self.assertEqual((error.code, error.reason), (404, "Not Found"))
        self.assertEqual(error.read(), b"no such thing")
        self.assertEqual(error.headers["content-length"], "13")
        error.close()

    def test_redirects_are_followed(self):
        with self.open(self.base + "/redirect") as response:
            self.assertEqual(json.load(response)["path"], "/echo?from=redirect")
        self.assertEqual([sent["path"] for sent in self.wasi.sent], ["/redirect", "/echo?from=redirect"])

    def test_a_refusal_raises_url_error_naming_the_error_code(self):
        self.wasi.refuse = self.wasi.types.ErrorCode_HttpRequestDenied()
        with self.assertRaises(urllib.error.URLError) as raised:
            self.open(urllib.request.Request(self.base + "/echo", data=b"x" * 9000))
        reason = raised.exception.reason
        self.assertIsInstance(reason, wasi_http.WasiHttpError)
        self.assertEqual(reason.code, "HTTP-request-denied")
        self.assertIn("HTTP-request-denied", str(raised.exception))
        self.assertNotIsInstance(reason, TimeoutError)

    def test_an_error_of_the_answer_raises_url_error(self):
        types = self.wasi.types
        cases = [
            (types.ErrorCode_ConnectionRefused(), "connection-refused", None),
            (types.ErrorCode_InternalError("request failed: reset"), "internal-error", "request failed: reset"),
            (types.ErrorCode_HttpRequestBodySize(2_000_000), "HTTP-request-body-size", "2000000"),
            (types.ErrorCode_HttpRequestUriInvalid(), "HTTP-request-URI-invalid", None),
        ]
        for code, name, detail in cases:
            self.wasi.fail = code
            with self.assertRaises(urllib.error.URLError, msg=name) as raised:
                self.open(self.base + "/echo")
            self.assertEqual((raised.exception.reason.code, raised.exception.reason.detail), (name, detail))
        self.wasi.fail = types.ErrorCode_HttpResponseTimeout()
        with self.assertRaises(urllib.error.URLError) as raised:
            self.open(self.base + "/echo")
        self.assertIsInstance(raised.exception.reason, TimeoutError)

    def test_answers_are_read_up_to_the_limit(self):
        opener = urllib.request.build_opener(wasi_http.WasiHttpHandler(max_answer=100_000, bindings=self.wasi.bindings))
        with opener.open(self.base + "/bytes/100000") as response:
            self.assertEqual(len(response.read()), 100_000)
        with self.assertRaises(urllib.error.URLError) as raised:
            opener.open(self.base + "/bytes/100001")
        self.assertIn("over 100000 bytes", str(raised.exception))

    def test_a_timeout_is_passed_as_request_options(self):
        with self.open(self.base + "/echo", timeout=2.5) as response:
            response.read()
        self.assertEqual(self.wasi.options[0].timeouts, {"connect": 2_500_000_000, "first_byte": 2_500_000_000, "between_bytes": 2_500_000_000})
        with self.open(self.base + "/echo") as response:
            response.read()
        self.assertEqual(len(self.wasi.options), 1, "no options without a timeout")

    def test_bad_headers_raise_value_error_and_https_goes_over_wasi_http_too(self):
        with self.assertRaises(ValueError):
            self.open(urllib.request.Request(self.base + "/echo", headers={"Bad Name": "x"}))
        self.wasi.refuse = self.wasi.types.ErrorCode_HttpRequestDenied()
        with self.assertRaises(urllib.error.URLError):
            self.open("https://127.0.0.1:1/echo")
        self.assertEqual(self.wasi.sent, [])


class NativeTest(unittest.TestCase):
    def test_natively_urllib_is_left_alone(self):
        self.assertFalse(wasi_http.available())
        self.assertFalse(wasi_http.install())
        handlers = wasi_http.build_opener().handlers
        self.assertFalse(any(isinstance(h, wasi_http.WasiHttpHandler) for h in handlers))

    def run_as_component(self, *lines):
        """Runs ``lines`` in a fresh interpreter that looks like a component: platform
        wasi, and modules standing in for the generated wasi:http bindings."""
        prelude = [
            "import sys, types",
            "sys.platform = 'wasi'",
            "for name in ('componentize_py_types', 'wit_world', 'wit_world.imports', 'wit_world.imports.outgoing_handler',",
            "             'wit_world.imports.streams', 'wit_world.imports.wasi_http_types'):",
            "    sys.modules[name] = types.ModuleType(name)",
            "sys.modules['componentize_py_types'].Err = Exception",
            "for name in ('outgoing_handler', 'streams', 'wasi_http_types'):",
            "    setattr(sys.modules['wit_world.imports'], name, sys.modules['wit_world.imports.' + name])",
            "def installed():",
            "    import urllib.request",
            "    from weir import wasi_http",
            "    opener = urllib.request._opener",
            "    return opener is not None and any(isinstance(h, wasi_http.WasiHttpHandler) for h in opener.handlers)",
        ]
        sdk = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=sdk, PYTHONDONTWRITEBYTECODE="1")
        code = "\n".join(prelude + list(lines))
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_the_opener_is_installed_when_urllib_request_is_imported_after_weir(self):
        self.run_as_component(
            "import weir",
            "from weir import _urllib",
            "assert 'urllib.request' not in sys.modules",
            "assert any(isinstance(f, _urllib._UrllibFinder) for f in sys.meta_path)",
            "import urllib.request",
            "assert installed()",
            "assert not any(isinstance(f, _urllib._UrllibFinder) for f in sys.meta_path)",
            "assert urllib.request.urlopen",
        )

    def test_the_opener_is_installed_when_urllib_request_is_imported_before_weir(self):
        self.run_as_component(
            "import urllib.request",
            "assert urllib.request._opener is None",
            "import weir",
            "assert installed()",
        )

    def test_without_the_bindings_urllib_is_left_alone_in_a_component(self):
        self.run_as_component(
            "del sys.modules['wit_world.imports.outgoing_handler']",
            "delattr(sys.modules['wit_world.imports'], 'outgoing_handler')",
            "import weir, urllib.request",
            "from weir import wasi_http",
            "assert not wasi_http.available() and urllib.request._opener is None",
        )


if __name__ == "__main__":
    unittest.main()
