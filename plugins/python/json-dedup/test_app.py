import unittest

import weir
from weir import testing

import config as configs
from app import JsonDedup
from fields import FieldPath, key_text, parse_body


def key(config, body):
    return JsonDedup().dedup_key(config, weir.Message(body))


class JsonDedupTest(testing.TestCase):
    def test_a_bare_path_names_the_field(self):
        self.assertEqual(key("order.id", '{"order":{"id":"A-17","total":3}}'), "A-17")

    def test_a_json_config_names_the_field(self):
        self.assertEqual(key('{"field":"order.id"}', '{"order":{"id":17}}'), "17")

    def test_several_fields_make_one_key(self):
        config = '{"fields":["tenant","order.id"]}'
        self.assertEqual(key(config, '{"tenant":"t1","order":{"id":9}}'), "t1\x1f9")
        self.assertIsNone(key(config, '{"tenant":"t1"}'))

    def test_non_json_bodies_and_missing_fields_have_no_key(self):
        self.assertIsNone(key("id", "not json"))
        self.assertIsNone(key("id", '{"other":1}'))
        self.assertIsNone(key("id", '{"id":null}'))
        self.assertIsNone(key("id", "[1,2]"))
        self.assertIsNone(key("id", b'\xef\xbb\xbf{"id":1}'))
        self.assertIsNone(key("id", '{"id":NaN}'))
        self.assertIsNone(key("id", b'{"id":"\xff"}'))
        self.assertIsNone(key("id", '{"id":"\\ud800"}'))
        self.assertIsNone(key("id", '{"id":1e400}'))
        self.assertIsNone(key("id", '{"id":-' + "9" * 400 + "}"))

    def test_array_indices_and_json_pointers_reach_into_arrays(self):
        body = '{"items":[{"sku":"x"},{"sku":"y"}]}'
        self.assertEqual(key("items.1.sku", body), "y")
        self.assertEqual(key("/items/0/sku", body), "x")
        self.assertIsNone(key("items.2.sku", body))
        self.assertIsNone(key("items.-1.sku", body))

    def test_a_bad_config_gives_no_keys_and_logs_once(self):
        dedup = JsonDedup()
        body = weir.Message('{"id":1}')
        self.assertIsNone(dedup.dedup_key("{not json", body))
        self.assertIsNone(dedup.dedup_key("{not json", body))
        self.assertEqual(len(testing.logs()), 1)


class ConfigTest(unittest.TestCase):
    def test_the_forms_agree(self):
        bare = configs.parse("order.id")
        self.assertEqual(configs.parse('{"field":"order.id"}'), bare)
        self.assertEqual(configs.parse(' {"fields":["order.id"]} '), bare)
        self.assertEqual(configs.parse("/order/id"), bare)

    def test_bad_configs_are_refused(self):
        for config in ["", '{"fields":[]}', '{"field":"a","fields":["b"]}', '{"feld":"a"}', "a..b",
                       '{"field":"a","field":"b"}', '{"field":1}']:
            with self.assertRaises(configs.ConfigError, msg=config):
                configs.parse(config)


class FieldsTest(unittest.TestCase):
    def test_pointers_unescape_slashes_and_tildes(self):
        document = {"a/b": {"c~d": 1}, "x.y": 2}
        self.assertEqual(FieldPath.parse("/a~1b/c~0d").lookup(document), 1)
        self.assertEqual(FieldPath.parse("/x.y").lookup(document), 2)
        self.assertIsNone(FieldPath.parse("x.y").lookup(document))

    def test_values_become_keys(self):
        self.assertEqual(key_text("a"), "a")
        self.assertEqual(key_text(1.5), "1.5")
        self.assertEqual(key_text(True), "true")
        self.assertEqual(key_text({"b": 1, "a": 2}), '{"a":2,"b":1}')
        self.assertIsNone(key_text(None))

    def test_numbers_are_written_as_serde_json_writes_them(self):
        cases = {
            "17": "17", "-3": "-3", "1.0": "1.0", "1e2": "100.0", "1e20": "1e+20", "1.5e20": "1.5e+20",
            "1e16": "1e+16", "1e15": "1000000000000000.0", "0.0001": "0.0001", "0.00001": "0.00001",
            "1e-7": "1e-7", "123.456": "123.456", "-0.5": "-0.5", "0.0": "0.0",
            "18446744073709551615": "18446744073709551615", "18446744073709551616": "1.8446744073709552e+19",
            "-9223372036854775809": "-9.223372036854776e+18", "-0": "-0.0", "-0.0": "-0.0",
            "5e-324": "5e-324", "1.7976931348623157e308": "1.7976931348623157e+308",
        }
        for text, expected in cases.items():
            self.assertEqual(key_text(parse_body(text.encode())), expected, text)

    def test_nested_values_are_compact_and_sorted(self):
        value = parse_body('{"z":[1, {"y":"é\\n\\u0001","x":null}],"a":true}'.encode())
        self.assertEqual(key_text(value), '{"a":true,"z":[1,{"x":null,"y":"é\\n\\u0001"}]}')


if __name__ == "__main__":
    unittest.main()
