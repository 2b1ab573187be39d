"""``forwarder``, a Weir consumer: publishes each message of its group, transformed, to
another topic, and acks it once the publish succeeded.

* ``config``: the binding's config (``config.Config``): the target topic and the
  transformations;
* ``transform``: what happens to a message on its way (``transform.forward``).

A failed publish is retried (after ``retry_ms``, or the group's backoff), or, from the
delivery attempt ``dead_letter_after`` on, dead-lettered with the failure as its reason.
The rest of the batch after a failure is retried without being published: that keeps the
order of a FIFO group's messages and spares a target that is failing. A config that does not parse
retries every message with the group's backoff (and is logged once per instance):
fixing the binding lets them through, and after the group's maximum attempts they are
dead-lettered, not lost.
"""

from __future__ import annotations

import json
from typing import Optional

import weir

import config as configs
from transform import forward


class Forwarder(weir.Consumer):
    def __init__(self) -> None:
        self.configs = weir.ConfigCache(self.parse)

    @staticmethod
    def parse(config: str) -> Optional[configs.Config]:
        try:
            return configs.parse(config)
        except configs.ConfigError as error:
            weir.log.error(f"forwarder: invalid config {json.dumps(config)}: {error}; messages are retried")
            return None

    def handle(self, config: str, batch: list[weir.Message]) -> list[weir.Outcome]:
        parsed = self.configs.get(config)
        if parsed is None:
            return [weir.Outcome.RETRY_WITH_BACKOFF] * len(batch)
        outcomes = []
        for message in batch:
            if outcomes and not outcomes[-1].is_ack:
                outcomes.append(weir.Outcome.retry(parsed.retry_ms))
                continue
            try:
                weir.publish(forward(parsed, message))
                outcomes.append(weir.Outcome.ack())
            except weir.HostError as error:
                if parsed.gives_up_on(message.attempt):
                    reason = (
                        f"forwarder: publishing {message.id} to {parsed.to} failed"
                        f" on attempt {message.attempt}: {error}"
                    )
                    weir.log.warn(f"{reason}; dead-lettering")
                    outcomes.append(weir.Outcome.dead_letter(reason))
                else:
                    weir.log.warn(f"forwarder: publishing {message.id} to {parsed.to} failed: {error}; retrying")
                    outcomes.append(weir.Outcome.retry(parsed.retry_ms))
        return outcomes


weir.export_consumer(Forwarder)
