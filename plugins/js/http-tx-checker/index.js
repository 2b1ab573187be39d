// `http-tx-checker`, a Weir transaction checker: asks the producer's HTTP service for the
// state of an undecided transaction, with JavaScript's own `fetch` (which the broker
// serves through wasi:http, under the binding's allowlist and limits).
//
//   config.js    the binding's config: URL template, method, headers, not_found
//   template.js  the URL template and its placeholders
//   answer.js    how a response maps to commit, rollback or unknown
//   callback.js  the JSON body of a POST, the same as the broker's check-back callback
//
// Anything but a clear answer is unknown: the broker asks again later. A config that does
// not parse is logged once per instance and answers unknown. `check` is async (it awaits
// `fetch`), so the plugin needs the StarlingMonkey backend (package.json).

import { TxChecker, TxState, log } from 'weir';
import { stateOf } from './answer.js';
import { body } from './callback.js';
import { configOf } from './config.js';
import { render } from './template.js';

function describe(error) {
  const cause = error?.cause ? ` (${error.cause.message ?? error.cause})` : '';
  return `${error?.message ?? error}${cause}`;
}

/** Asks the service described by `config` (parsed) about `half`'s transaction. */
export async function ask(config, half, checks) {
  const url = render(config.url, half, checks);
  const headers = new Headers(config.headers);
  const init = { method: config.method, headers, redirect: 'manual' };
  if (config.method === 'POST') {
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    init.body = body(half, checks);
  }
  let status;
  let answer;
  try {
    const response = await fetch(url, init);
    status = response.status;
    answer = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    log.warn(`http-tx-checker: asking ${url} about transaction ${half.id} failed: ${describe(error)}`);
    return TxState.UNKNOWN;
  }
  const state = stateOf(status, answer, config.notFound);
  if (state === TxState.UNKNOWN) {
    log.debug(`http-tx-checker: ${url} answered ${status} for transaction ${half.id}: unknown`);
  }
  return state;
}

export default class HttpTxChecker extends TxChecker {
  async check(configText, half, checks) {
    const config = configOf(configText);
    return config === undefined ? TxState.UNKNOWN : ask(config, half, checks);
  }
}
