// `forwarder`, a Weir consumer: publishes each message of its group, transformed, to
// another topic, and acks it once the publish succeeded.
//
// A failed publish is retried (after `retry_ms`, or the group's backoff). The rest of the
// batch after a failure is retried without being published: that keeps the order of a
// FIFO group's messages and spares a target that is failing. A config that does not parse
// retries every message with the group's backoff (and is logged once per instance).

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
        log.warn(`forwarder: publishing ${message.id} to ${ok.to} failed: ${error.message}; retrying`);
        failed = true;
        return Outcome.retry(ok.retryMs);
      }
    });
  }
}
