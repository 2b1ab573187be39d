import unittest

import weir
from weir import testing
from weir.log import Level

import config as configs
from app import Forwarder
from transform import forward


def message(id, body, attempt=1):
    return weir.Message(body, id=id, topic="orders", attempt=attempt)


class ForwarderTest(testing.TestCase):
    def test_forwards_and_acks_every_message(self):
        batch = [message("a", "one"), message("b", "two")]
        config = '{"to":"orders-eu","add_properties":{"region":"eu"},"uppercase":true}'
        self.assertEqual(Forwarder().handle(config, batch), [weir.Outcome.ack()] * 2)
        published = testing.published()
        self.assertEqual(len(published), 2)
        self.assertEqual(published[0].topic, "orders-eu")
        self.assertEqual(published[0].body, b"ONE")
        self.assertEqual(published[1].properties, [("region", "eu")])

    def test_a_bare_topic_is_a_config(self):
        self.assertEqual(Forwarder().handle("audit", [message("a", "x")]), [weir.Outcome.ack()])
        self.assertEqual(testing.published()[0].topic, "audit")

    def test_a_failed_publish_retries_it_and_the_rest_of_the_batch(self):
        testing.fail_publish("topic orders-eu does not exist")
        batch = [message("a", "1"), message("b", "2")]
        config = '{"to":"orders-eu","retry_ms":500}'
        self.assertEqual(Forwarder().handle(config, batch), [weir.Outcome.retry(500)] * 2)
        self.assertEqual(len(testing.logs()), 1, "one attempt, one warning")

    def test_a_failed_publish_before_dead_letter_after_retries(self):
        testing.fail_publish("topic orders-eu does not exist")
        config = '{"to":"orders-eu","retry_ms":500,"dead_letter_after":3}'
        self.assertEqual(Forwarder().handle(config, [message("a", "1", attempt=2)]), [weir.Outcome.retry(500)])
        logs = testing.logs()
        self.assertEqual(len(logs), 1)
        self.assertTrue(logs[0][1].endswith("; retrying"), logs)

    def test_a_failed_publish_from_dead_letter_after_dead_letters_it_and_retries_the_rest(self):
        testing.fail_publish("topic orders-eu does not exist")
        config = '{"to":"orders-eu","retry_ms":500,"dead_letter_after":3}'
        forwarder = Forwarder()
        for attempt in [3, 4]:
            batch = [message("a", "1", attempt=attempt), message("b", "2"), message("c", "3", attempt=7)]
            reason = (
                f"forwarder: publishing a to orders-eu failed on attempt {attempt}: topic orders-eu does not exist"
            )
            self.assertEqual(
                forwarder.handle(config, batch),
                [weir.Outcome.dead_letter(reason), weir.Outcome.retry(500), weir.Outcome.retry(500)],
            )
            self.assertEqual(testing.logs()[-1], (Level.WARN, f"{reason}; dead-lettering"))
        self.assertEqual(len(testing.logs()), 2, "one publish a batch")
        self.assertEqual(testing.published(), [])

    def test_dead_letter_after_leaves_successful_publishes_alone(self):
        config = '{"to":"orders-eu","dead_letter_after":1}'
        self.assertEqual(Forwarder().handle(config, [message("a", "1", attempt=9)]), [weir.Outcome.ack()])
        self.assertEqual(len(testing.published()), 1)
        self.assertEqual(testing.logs(), [])

    def test_a_bad_config_retries_everything_with_the_group_backoff(self):
        batch = [message("a", "1"), message("b", "2")]
        forwarder = Forwarder()
        self.assertEqual(forwarder.handle('{"too":"x"}', batch), [weir.Outcome.RETRY_WITH_BACKOFF] * 2)
        forwarder.handle('{"too":"x"}', batch)
        self.assertEqual(testing.published(), [])
        self.assertEqual(len(testing.logs()), 1, "logged once per instance")


class ConfigTest(unittest.TestCase):
    def test_only_to_is_required(self):
        full = configs.parse('{"to":"t"}')
        self.assertEqual(configs.parse("t"), full)
        self.assertFalse(full.uppercase)
        self.assertEqual(full.retry_ms, 0)
        self.assertIsNone(full.dead_letter_after)

    def test_bad_configs_are_refused(self):
        for config in [
            "",
            '{"to":" "}',
            '{"to":"t","upercase":true}',
            '{"to":"t","retry_ms":-1}',
            '{"to":"t","retry_ms":1.5}',
            '{"to":"t","dead_letter_after":0}',
            '{"to":"t","dead_letter_after":-1}',
            '{"to":"t","dead_letter_after":1.5}',
            '{"to":"t","dead_letter_after":"3"}',
            '{"to":"t","dead_letter_after":true}',
            '{"to":"t","dead_letter_after":4294967296}',
            '{"to":"t","uppercase":1}',
            '{"to":"t","to":"u"}',
            '{"to":"t","tag":7}',
            '{"to":"t"',
            '{"tag":"x"}',
        ]:
            with self.assertRaises(configs.ConfigError, msg=config):
                configs.parse(config)

    def test_nulls_of_optional_fields_are_absent(self):
        parsed = configs.parse('{"to":"t","tag":null,"origin_property":null,"add_properties":{"a":"1","a":"2"}}')
        self.assertIsNone(parsed.tag)
        self.assertEqual(parsed.add_properties, {"a": "2"})
        self.assertEqual(configs.parse('{"to":"t","dead_letter_after":null}'), configs.parse("t"))

    def test_dead_letter_after_is_an_attempt_from_1(self):
        parsed = configs.parse('{"to":"t","dead_letter_after":3}')
        self.assertEqual(parsed.dead_letter_after, 3)
        self.assertEqual([parsed.gives_up_on(n) for n in (2, 3, 4)], [False, True, True])
        self.assertFalse(configs.parse("t").gives_up_on(2**32 - 1))


class TransformTest(unittest.TestCase):
    def test_applies_every_change(self):
        config = configs.parse(
            """{"to":"eu","add_properties":{"region":"eu","kind":"new"},
                "remove_properties":["internal"],"tag":"fwd","uppercase":true,
                "origin_property":"from"}"""
        )
        original = weir.Message(
            "grüße",
            id="m-1",
            keys=["k"],
            tag="old",
            message_group="g",
            properties=[("kind", "old"), ("internal", "x")],
        )
        out = forward(config, original)
        self.assertEqual(out.topic, "eu")
        self.assertEqual(out.keys, ["k"])
        self.assertEqual(out.tag, "fwd")
        self.assertEqual(out.message_group, "g")
        self.assertEqual(out.properties.items(), [("kind", "new"), ("region", "eu"), ("from", "m-1")])
        self.assertEqual(out.body, "GRÜSSE".encode())
        self.assertEqual(original.properties.items(), [("kind", "old"), ("internal", "x")])

    def test_binary_bodies_pass_unchanged(self):
        config = configs.parse('{"to":"t","uppercase":true}')
        self.assertEqual(forward(config, weir.Message(b"\xffa")).body, b"\xffa")


if __name__ == "__main__":
    unittest.main()
