// `forwarder`, a Weir consumer: publishes each message of its group, transformed, to
// another topic, and acks it once the publish succeeded.
//
// A failed publish is retried (after `retry_ms`, or the group's backoff), or, from the
// delivery attempt `dead_letter_after` on, dead-lettered with the failure as its reason.
// The rest of the batch after a failure is retried without being published: that keeps
// the order of a FIFO group's messages and spares a target that is failing. A config that
// does not parse retries every message with the group's backoff (and is logged once per
// instance).

import { Consumer, Outcome, log, publish } from 'weir';
import { parsed } from './config.js';
import { forward } from './transform.js';

export default class Forwarder extends Consumer {
  handle(configText, batch) {
    const config = parsed(configText);
    if (config.ok === undefined) return batch.map(() => Outcome.RETRY_WITH_BACKOFF);
    const { ok } = config;
    let failed = false;
    return batch.map((message) => {
      if (failed) return Outcome.retry(ok.retryMs);
      try {
        publish(forward(ok, message));
        return Outcome.ack();
      } catch (error) {
        failed = true;
        if (ok.deadLetterAfter !== undefined && message.attempt >= ok.deadLetterAfter) {
          const reason =
            `forwarder: publishing ${message.id} to ${ok.to} failed on attempt ${message.attempt}: ` +
            error.message;
          log.warn(`${reason}; dead-lettering`);
          return Outcome.deadLetter(reason);
        }
        log.warn(`forwarder: publishing ${message.id} to ${ok.to} failed: ${error.message}; retrying`);
        return Outcome.retry(ok.retryMs);
      }
    });
  }
}
