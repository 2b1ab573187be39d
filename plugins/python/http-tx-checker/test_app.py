import http.server
import json
import socket
import threading
import unittest

import weir
from weir import testing

import callback
import config as configs
from answer import state_of
from app import HttpTxChecker
from template import UrlTemplate

COMMIT, ROLLBACK, UNKNOWN = weir.TxState.COMMIT, weir.TxState.ROLLBACK, weir.TxState.UNKNOWN


class Service(http.server.BaseHTTPRequestHandler):
    """The producer's service: answers each path as the test scripted it, and records
    every request (method, raw path, headers, body)."""

    answers: dict = {}
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        Service.requests.append((self.command, self.path, headers, body))
        status, answer, extra = Service.answers.get(self.path, (503, b"busy", ()))
        answer = answer if isinstance(answer, bytes) else answer.encode()
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def half(id, **fields):
    fields.setdefault("topic", "orders")
    fields.setdefault("keys", ["order-1"])
    return weir.Message(fields.pop("body", b"{}"), id=id, **fields)


class CheckerTest(testing.TestCase):
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
        super().setUp()
        Service.answers = {}
        Service.requests = []

    def answer(self, path, status, body="", headers=()):
        Service.answers[path] = (status, body, headers)

    def check(self, config, message, checks=0):
        return HttpTxChecker().check(config, message, checks)

    def test_a_get_maps_the_answer(self):
        self.answer("/tx/t1", 200, "commit")
        self.answer("/tx/t2", 200, '{"state":"rollback"}')
        config = self.base + "/tx/{transaction}"
        self.assertEqual(self.check(config, half("t1")), COMMIT)
        self.assertEqual(self.check(config, half("t2")), ROLLBACK)
        self.assertEqual(self.check(config, half("t3")), UNKNOWN, "503 busy")
        self.assertEqual([(method, path) for method, path, _, _ in Service.requests],
                         [("GET", "/tx/t1"), ("GET", "/tx/t2"), ("GET", "/tx/t3")])  # fmt: skip
        self.assertEqual(Service.requests[0][3], b"", "a GET has no body")

    def test_words_and_json_answers_decide_in_any_case(self):
        config = self.base + "/tx/{id}"
        for body, state in [(" ROLLBACK\n", ROLLBACK), ("Commit", COMMIT), ('{"state":"commit","at":1}', COMMIT),
                            ('{"state":"unknown"}', UNKNOWN), ("maybe", UNKNOWN), ("", UNKNOWN),
                            (b"\xffcommit", UNKNOWN), ('"commit"', UNKNOWN)]:  # fmt: skip
            self.answer("/tx/t", 201, body)
            self.assertEqual(self.check(config, half("t")), state, body)
        self.answer("/tx/t", 500, "commit")
        self.assertEqual(self.check(config, half("t")), UNKNOWN)

    def test_a_404_is_unknown_or_rollback_as_configured(self):
        self.answer("/tx/gone", 404, "not found")
        self.assertEqual(self.check(self.base + "/tx/{transaction}", half("gone")), UNKNOWN)
        config = json.dumps({"url": self.base + "/tx/{transaction}", "not_found": "rollback"})
        self.assertEqual(self.check(config, half("gone")), ROLLBACK)

    def test_a_post_sends_the_callback_body_and_headers(self):
        self.answer("/check", 200, '{"state":"commit"}')
        config = json.dumps({"url": self.base + "/check", "method": "POST", "headers": {"authorization": "Bearer s3cret"}})
        message = half("t1", tag="paid", properties=[("b", "2"), ("a", "1")], born_ms=5, body="hello")
        self.assertEqual(self.check(config, message, 2), COMMIT)
        method, path, headers, body = Service.requests[0]
        self.assertEqual((method, path), ("POST", "/check"))
        self.assertEqual(headers["authorization"], "Bearer s3cret")
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(
            json.loads(body),
            {"transaction": "t1", "topic": "orders", "checks": 2,
             "message": {"id": "t1", "topic": "orders", "keys": ["order-1"], "tag": "paid",
                         "properties": {"a": "1", "b": "2"}, "born_ms": 5, "body": "hello"}},
        )  # fmt: skip

    def test_placeholders_are_filled_and_percent_encoded(self):
        config = self.base + "/{topic}/tx/{transaction}?k={key}&n={checks}&t={tag}&{{literal}}"
        self.check(config, half("01J/x y", keys=["ä&b"]), 3)
        self.assertEqual(Service.requests[0][1], "/orders/tx/01J%2Fx%20y?k=%C3%A4%26b&n=3&t=&{literal}")

    def test_a_redirect_is_followed(self):
        self.answer("/tx/moved", 302, "", [("location", "/tx/here")])
        self.answer("/tx/here", 200, "rollback")
        self.assertEqual(self.check(self.base + "/tx/{transaction}", half("moved")), ROLLBACK)
        self.answer("/tx/nowhere", 302, "commit")
        self.assertEqual(self.check(self.base + "/tx/{transaction}", half("nowhere")), UNKNOWN)

    def test_failures_are_unknown_and_logged(self):
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        self.assertEqual(self.check(f"http://127.0.0.1:{port}/tx/{{transaction}}", half("t1")), UNKNOWN)
        warnings = [line for level, line in testing.logs() if level == weir.log.Level.WARN]
        self.assertEqual(len(warnings), 1, testing.logs())
        self.assertIn(f"asking http://127.0.0.1:{port}/tx/t1 about transaction t1 failed", warnings[0])
        config = json.dumps({"url": self.base + "/tx/{id}", "headers": {"bad\nname": "x"}})
        self.assertEqual(self.check(config, half("t2")), UNKNOWN)
        self.assertEqual(Service.requests, [], "a bad header makes no request")

    def test_a_bad_config_is_logged_once_and_every_transaction_stays_unknown(self):
        checker = HttpTxChecker()
        self.assertEqual(checker.check("{bad", half("t1"), 0), UNKNOWN)
        self.assertEqual(checker.check("{bad", half("t2"), 1), UNKNOWN)
        errors = [line for level, line in testing.logs() if level == weir.log.Level.ERROR]
        self.assertEqual(len(errors), 1, testing.logs())
        self.assertIn('invalid config "{bad"', errors[0])
        self.assertEqual(Service.requests, [], "a bad config makes no request")


class ConfigTest(unittest.TestCase):
    def test_a_bare_template_is_a_get(self):
        bare = configs.parse(" http://svc/tx/{transaction}\n")
        self.assertEqual(configs.parse('{"url":"http://svc/tx/{transaction}"}'), bare)
        self.assertEqual((bare.method, bare.headers, bare.not_found), ("GET", {}, UNKNOWN))

    def test_the_json_form_reads_every_field(self):
        parsed = configs.parse('{"url":"http://svc/","method":"POST","headers":{"a":"b"},"not_found":"rollback"}')
        self.assertEqual((parsed.method, parsed.headers, parsed.not_found), ("POST", {"a": "b"}, ROLLBACK))

    def test_bad_configs_are_refused(self):
        for config in ["", "svc/tx/{id}", '{"url":"http://svc/","method":"PUT"}', '{"url":"http://svc/","method":"post"}',
                       '{"url":"http://svc/","verb":"GET"}', "http://svc/{nope}", '{"method":"GET"}', '{"url":7}',
                       '{"url":"http://svc/","url":"http://other/"}', '{"url":"http://svc/","headers":{"a":1}}',
                       '{"url":"http://svc/","headers":[]}', '{"url":"http://svc/","not_found":"commit"}',
                       '{"url":"http://svc/","method":null}', '{"url":"http://svc/","x":NaN}', '{"url":"http://svc/"} x']:  # fmt: skip
            with self.assertRaises(configs.ConfigError, msg=config):
                configs.parse(config)


class TemplateTest(unittest.TestCase):
    def test_doubled_braces_are_literal(self):
        self.assertEqual(UrlTemplate.parse("http://svc/{{id}}/{id}").render(weir.Message(id="7"), 0), "http://svc/{id}/7")

    def test_missing_values_are_empty(self):
        template = UrlTemplate.parse("http://svc/{key}/{tag}/{topic}")
        self.assertEqual(template.render(weir.Message(id="x"), 0), "http://svc///")

    def test_bad_templates_are_refused(self):
        for template in ["svc/tx/{id}", "http://svc/{id", "http://svc/id}", "http://svc/{when}", "HTTP://svc/"]:
            with self.assertRaises(ValueError, msg=template):
                UrlTemplate.parse(template)


class AnswerTest(unittest.TestCase):
    def test_plain_words_and_json_decide(self):
        self.assertEqual(state_of(200, b"commit", UNKNOWN), COMMIT)
        self.assertEqual(state_of(204, b'{"state":"commit"}', UNKNOWN), COMMIT)
        self.assertEqual(state_of(299, "\u3000rollback\u2029".encode(), UNKNOWN), ROLLBACK)

    def test_anything_else_is_unknown(self):
        for status, body in [(200, b"maybe"), (302, b"commit"), (200, b'{"state":"commit","state":"rollback"}'),
                             (200, b'{"state":1}'), (200, "rollbac\u212a".encode()), (199, b"commit")]:  # fmt: skip
            self.assertEqual(state_of(status, body, ROLLBACK), UNKNOWN, (status, body))

    def test_not_found_is_configurable(self):
        self.assertEqual(state_of(404, b"", UNKNOWN), UNKNOWN)
        self.assertEqual(state_of(404, b"commit", ROLLBACK), ROLLBACK)


class CallbackTest(unittest.TestCase):
    def test_text_bodies_travel_as_text(self):
        message = weir.Message("hello", id="tx-1", topic="orders", keys=["k"], born_ms=5,
                               properties=[("b", "2"), ("a", "1"), ("b", "3")])  # fmt: skip
        self.assertEqual(
            callback.body(message, 4),
            b'{"transaction":"tx-1","topic":"orders","checks":4,"message":{"id":"tx-1","topic":"orders",'
            b'"keys":["k"],"properties":{"a":"1","b":"3"},"born_ms":5,"body":"hello"}}',
        )

    def test_binary_bodies_travel_as_base64(self):
        body = json.loads(callback.body(weir.Message(b"\xff\x00\x10\x20", message_group="g"), 0))
        self.assertEqual(body["message"]["body_base64"], "/wAQIA==")
        self.assertEqual(body["message"]["message_group"], "g")
        self.assertNotIn("body", body["message"])

    def test_text_is_written_as_serde_json_writes_it(self):
        body = callback.body(weir.Message('é"\\\n\x01\u2028', id="t"), 0)
        self.assertIn('"body":"é\\"\\\\\\n\\u0001\u2028"'.encode(), body)


if __name__ == "__main__":
    unittest.main()
