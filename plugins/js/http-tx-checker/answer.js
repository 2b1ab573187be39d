// How the service's response maps to a transaction state.
//
// A 2xx response whose body is `commit` or `rollback` (any case, surrounding whitespace
// ignored), or a JSON object `{"state": "commit" | "rollback" | "unknown"}` (what the
// broker's producer-group callbacks answer), decides the transaction. A 404 is what the
// config's `not_found` says. Everything else is unknown.

import { TxState, utf8Decode } from 'weir';

const lower = (text) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** The transaction state of an answer: its `status` and `body` bytes (a Uint8Array). */
export function stateOf(status, body, notFound) {
  if (status === 404) return notFound === 'rollback' ? TxState.ROLLBACK : TxState.UNKNOWN;
  if (status < 200 || status > 299) return TxState.UNKNOWN;
  const text = utf8Decode(body)?.trim();
  if (text === undefined) return TxState.UNKNOWN;
  let word = text;
  try {
    const answer = JSON.parse(text);
    if (answer !== null && typeof answer === 'object' && typeof answer.state === 'string') {
      word = answer.state;
    }
  } catch {
    // not JSON: the bare word
  }
  switch (lower(word)) {
    case 'commit':
      return TxState.COMMIT;
    case 'rollback':
      return TxState.ROLLBACK;
    default:
      return TxState.UNKNOWN;
  }
}
