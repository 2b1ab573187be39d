"""The SDK's own tests: messages, outcomes, host services against the double."""

import unittest

import weir
from weir import http, testing


class MessageTest(testing.TestCase):
    def test_properties_read_and_write_like_a_dict(self):
        props = weir.Properties([("a", "1"), ("b", "2"), ("a", "3")])
        self.assertEqual(props["a"], "1")
        self.assertEqual(props.get_all("a"), ["1", "3"])
        self.assertEqual(list(props), ["a", "b"])
        props["b"] = "x"
        props["c"] = "y"
        self.assertEqual(props.items(), [("a", "1"), ("b", "x"), ("a", "3"), ("c", "y")])
        del props["a"]
        self.assertEqual(props, {"b": "x", "c": "y"})
        self.assertIsNone(props.get("a"))
        with self.assertRaises(KeyError):
            props["a"]
        with self.assertRaises(TypeError):
            props["n"] = 1

    def test_bodies_as_text_and_json(self):
        message = weir.Message('{"id": "é"}')
        self.assertEqual(message.body, '{"id": "é"}'.encode())
        self.assertEqual(message.json(), {"id": "é"})
        self.assertEqual(message.text(), '{"id": "é"}')
        with self.assertRaises(UnicodeDecodeError):
            weir.Message(b"\xff").text()

    def test_to_outgoing_copies(self):
        message = weir.Message(b"b", keys=["k"], tag="t", message_group="g", properties={"p": "1"})
        out = message.to_outgoing("other")
        out.properties["p"] = "2"
        out.keys.append("k2")
        self.assertEqual((out.topic, out.body, out.tag, out.message_group), ("other", b"b", "t", "g"))
        self.assertEqual(message.properties, {"p": "1"})
        self.assertEqual(message.keys, ["k"])


class DeliveredTest(unittest.TestCase):
    """The class the bindings lift a delivered message into is a plain weir.Message."""

    def delivered(self):
        from weir._message import _Delivered

        return _Delivered("m-1", "orders", 2, 7, ["k"], "t", None, [("region", "eu")], b'{"a": 1}', 5, 1)

    def test_it_equals_the_message_built_by_hand(self):
        message = self.delivered()
        self.assertIsInstance(message, weir.Message)
        expected = weir.Message(
            b'{"a": 1}', id="m-1", topic="orders", queue=2, offset=7, keys=["k"], tag="t",
            properties={"region": "eu"}, born_ms=5, attempt=1,
        )
        self.assertEqual(message, expected)
        self.assertEqual(message.json(), {"a": 1})
        self.assertEqual(message.to_outgoing("audit"), expected.to_outgoing("audit"))

    def test_its_properties_are_a_properties_object_kept_across_reads(self):
        message = self.delivered()
        props = message.properties
        self.assertIsInstance(props, weir.Properties)
        self.assertIs(message.properties, props)
        props["region"] = "us"
        self.assertEqual(message.properties.get("region"), "us")
        message.properties = weir.Properties({"a": "b"})
        self.assertEqual(message.properties, {"a": "b"})


class OutcomeTest(unittest.TestCase):
    def test_outcomes_compare_and_check_their_numbers(self):
        self.assertEqual(weir.Outcome.retry(0), weir.Outcome.RETRY_WITH_BACKOFF)
        self.assertNotEqual(weir.Outcome.ack(), weir.Outcome.retry(0))
        self.assertEqual(repr(weir.Outcome.dead_letter("bad")), "Outcome.dead_letter('bad')")
        for wrong in (-1, 1 << 64):
            with self.assertRaises(ValueError):
                weir.Outcome.retry(wrong)
        for wrong in (1.5, True, "1"):
            with self.assertRaises(TypeError):
                weir.Outcome.retry(wrong)

    def test_registration_takes_one_class_of_the_world(self):
        with self.assertRaises(TypeError):
            weir.export_consumer(object)

    def test_the_default_handle_calls_handle_message(self):
        class Echo(weir.Consumer):
            def handle_message(self, config, message):
                return weir.Outcome.dead_letter(config + message.text())

        self.assertEqual(Echo().handle("x", [weir.Message("1")]), [weir.Outcome.dead_letter("x1")])

    def test_the_config_cache_parses_each_config_once(self):
        calls = []
        cache = weir.ConfigCache(lambda config: calls.append(config) or config.upper())
        self.assertEqual([cache.get("a"), cache.get("a"), cache.get("b"), cache.get("a")], ["A"] * 2 + ["B", "A"])
        self.assertEqual(calls, ["a", "b", "a"])


class HostTest(testing.TestCase):
    def test_state_expires_with_the_clock(self):
        testing.set_now_ms(1_000)
        weir.state.set("k", b"v", 500)
        testing.set_now_ms(1_499)
        self.assertEqual(weir.state.get("k"), b"v")
        testing.advance_ms(1)
        self.assertIsNone(weir.state.get("k"))

    def test_a_zero_ttl_keeps_the_value_until_deleted(self):
        testing.set_now_ms(0)
        weir.state.set("k", "v")
        testing.set_now_ms(1 << 62)
        self.assertEqual(testing.state(), {"k": b"v"})
        weir.state.delete("k")
        self.assertIsNone(weir.state.get("k"))

    def test_failures_are_host_errors(self):
        testing.fail_publish("publishing is not granted")
        with self.assertRaises(weir.HostError) as raised:
            weir.publish(weir.Outgoing("t", "b"))
        self.assertEqual(raised.exception.message, "publishing is not granted")
        testing.fail_state_set("quota")
        with self.assertRaises(weir.HostError):
            weir.state.set("k", b"v")
        with self.assertRaises(weir.HostError):
            http.get("http://x/")
        with self.assertRaises(ValueError):
            weir.state.set("k", b"v", -1)

    def test_publish_records_and_answers_ids(self):
        self.assertEqual(weir.publish(weir.Outgoing("a", "1", keys=["k"])), "test-1")
        self.assertEqual(weir.publish(weir.Outgoing("b", b"2")), "test-2")
        self.assertEqual([m.topic for m in testing.published()], ["a", "b"])
        with self.assertRaises(TypeError):
            weir.publish(weir.Outgoing("a", "1", keys=[1]))

    def test_http_is_scripted(self):
        testing.on_http(lambda call: http.Response(200, "commit") if call.url == "http://svc/tx/1" else (404, b""))
        answer = http.get("http://svc/tx/1", {"accept": "text/plain"})
        self.assertTrue(answer.ok)
        self.assertEqual(answer.text(), "commit")
        self.assertEqual(http.post("http://svc/other", "x").status, 404)
        calls = testing.http_calls()
        self.assertEqual([(c.method, c.url) for c in calls], [("GET", "http://svc/tx/1"), ("POST", "http://svc/other")])
        self.assertEqual(calls[0].headers, [("accept", "text/plain")])
        self.assertEqual(calls[1].body, b"x")

    def test_logs_are_captured(self):
        testing.set_now_ms(42)
        weir.log.info("hello")
        weir.log.error(ValueError("bad"))
        self.assertEqual(weir.now_ms(), 42)
        self.assertEqual(testing.logs(), [(weir.log.Level.INFO, "hello"), (weir.log.Level.ERROR, "bad")])


if __name__ == "__main__":
    unittest.main()
