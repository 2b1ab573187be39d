import unittest

import weir
from weir import testing

from app import AckAll


class AckAllTest(testing.TestCase):
    def test_acks_everything_and_counts_when_asked(self):
        batch = [weir.Message()] * 3
        self.assertEqual(AckAll().handle("", batch), [weir.Outcome.ack()] * 3)
        self.assertIsNone(weir.state.get("acked"))
        AckAll().handle("acked", batch)
        AckAll().handle(" acked ", batch)
        self.assertEqual(weir.state.get("acked"), b"6")

    def test_a_failed_count_is_logged_and_the_batch_acked(self):
        testing.fail_state_set("quota")
        self.assertEqual(AckAll().handle("acked", [weir.Message()]), [weir.Outcome.ack()])
        self.assertEqual(len(testing.logs()), 1)
        self.assertEqual(testing.logs()[0][0], weir.log.Level.WARN)


if __name__ == "__main__":
    unittest.main()
