// `ack-all`, a test consumer that acks every message: the baseline for benchmarks
// (nothing but the call boundary) and a well-behaved module for hot-swap tests.
//
// Config: empty, or the name of a state key. With a key, each batch adds its size to a
// counter kept there (decimal ASCII), so a test can read how many messages this binding
// acked; a failed state write is logged and the batch still acked. The count is a
// read-modify-write: exact with one instance (concurrency 1) only.

import { Outcome, log, state } from 'weir';

function count(key, n) {
  const soFar = Number.parseInt(state.getText(key) ?? '', 10);
  const total = (Number.isSafeInteger(soFar) && soFar >= 0 ? soFar : 0) + n;
  try {
    state.set(key, String(total), 0);
  } catch (error) {
    log.warn(`ack-all: counting in ${JSON.stringify(key)} failed: ${error.message}`);
  }
}

export default function handle(config, batch) {
  const counter = config.trim();
  if (counter !== '') count(counter, batch.length);
  return batch.map(() => Outcome.ack());
}
