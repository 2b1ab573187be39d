"""``ack-all``, a test consumer that acks every message: the baseline for benchmarks
(nothing but the call boundary) and a well-behaved module for hot-swap tests.

Config: empty, or the name of a state key. With a key, each batch adds its size to a
counter kept there (decimal ASCII), so a test can read how many messages this binding
acked; a failed state write is logged and the batch still acked. The count is a
read-modify-write: exact with one instance (concurrency 1) only.
"""

from __future__ import annotations

import json

import weir

WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
U64_MAX = (1 << 64) - 1


class AckAll(weir.Consumer):
    def handle(self, config: str, batch: list[weir.Message]) -> list[weir.Outcome]:
        counter = config.strip(WHITESPACE)
        if counter:
            count(counter, len(batch))
        return [weir.Outcome.ack()] * len(batch)


def count(key: str, n: int) -> None:
    """Adds ``n`` to the counter under ``key``."""
    so_far = _decimal(weir.state.get(key))
    total = min(so_far + n, U64_MAX)
    try:
        weir.state.set(key, str(total))
    except weir.HostError as error:
        weir.log.warn(f"ack-all: counting in {json.dumps(key)} failed: {error}")


def _decimal(value: bytes | None) -> int:
    """A counter's value: decimal ASCII (an optional ``+``), else 0."""
    if value is None:
        return 0
    digits = value[1:] if value.startswith(b"+") else value
    if not digits or not digits.isdigit() or int(digits) > U64_MAX:
        return 0
    return int(digits)


weir.export_consumer(AckAll)
