// A stand-in for the broker, for testing plugins natively with `node --test`.
//
// Importing this module backs the SDK's services (log, nowMs, state, publish, http) with
// an in-memory double; `reset()` starts afresh. By default the clock is the system clock,
// state is unlimited, publishing succeeds (answering ids `test-1`, `test-2`, ...) and
// every HTTP request fails as not allowed.
//
//   import * as testing from 'weir/testing';
//   testing.reset();
//   testing.setNowMs(1000);
//   testing.onHttp((call) => call.url.endsWith('/1') ? testing.response(200, 'commit') : testing.response(404));
//   ... call the plugin's handle / dedupKey / check ...
//   testing.published()[0].topic; testing.logs(); testing.httpCalls(); testing.stateValue(key)

import { install } from './host.js';
import { Message, Outgoing, Response, toBytes } from './weir.js';
import { decode } from './utf8.js';

let fake;

/** Forgets everything: logs, state, published messages, HTTP calls and every setting. */
export function reset() {
  fake = {
    nowMs: undefined,
    logs: [],
    state: new Map(),
    stateError: undefined,
    published: [],
    publishError: undefined,
    http: undefined,
    httpCalls: [],
  };
}

reset();

function now() {
  return fake.nowMs ?? Date.now();
}

install({
  log(level, message) {
    fake.logs.push({ level, message });
  },
  nowMs: now,
  stateGet(key) {
    const entry = fake.state.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires !== undefined && entry.expires <= now()) {
      fake.state.delete(key);
      return undefined;
    }
    return Uint8Array.from(entry.value);
  },
  stateSet(key, bytes, ttlMs) {
    if (fake.stateError !== undefined) throw fake.stateError;
    fake.state.set(key, {
      value: Uint8Array.from(bytes),
      expires: ttlMs > 0 ? now() + ttlMs : undefined,
    });
  },
  stateDelete(key) {
    fake.state.delete(key);
  },
  publish(message) {
    if (fake.publishError !== undefined) throw fake.publishError;
    fake.published.push(
      new Outgoing(message.topic, Uint8Array.from(message.body), {
        keys: message.keys,
        tag: message.tag,
        messageGroup: message.messageGroup,
        properties: message.properties,
      }),
    );
    return `test-${fake.published.length}`;
  },
  httpRequest(method, url, headers, body) {
    const call = { method, url, headers, body: Uint8Array.from(body) };
    fake.httpCalls.push(call);
    if (fake.http === undefined) throw `${url} is not on the binding's allowlist`;
    let answer;
    try {
      answer = fake.http(call);
    } catch (error) {
      throw typeof error === 'string' ? error : String(error?.message ?? error);
    }
    return [answer.status, toBytes(answer.body)];
  },
});

/** Fixes the clock at `ms` since the Unix epoch (state expiry follows it); undefined: system clock. */
export function setNowMs(ms) {
  fake.nowMs = ms === undefined ? undefined : Number(ms);
}

/** The lines logged so far, oldest first: [{level, message}]. */
export function logs() {
  return fake.logs.map((line) => ({ ...line }));
}

/** The messages published so far (Outgoing), oldest first. */
export function published() {
  return [...fake.published];
}

/** Makes every following publish fail with `reason` (undefined: succeed again). */
export function failPublish(reason) {
  fake.publishError = reason;
}

/** Makes every following state write fail with `reason`, as a full quota would. */
export function failStateSet(reason) {
  fake.stateError = reason;
}

/** The value under `key` as text, or undefined (expiry applies). */
export function stateText(key) {
  const entry = fake.state.get(key);
  if (entry === undefined || (entry.expires !== undefined && entry.expires <= now())) {
    return undefined;
  }
  return decode(entry.value);
}

/**
 * Answers the following HTTP requests with `handler(call)` ({method, url, headers, body})
 * returning a Response (`response(status, body)`), or throwing an error message.
 */
export function onHttp(handler) {
  fake.http = handler;
}

/** The HTTP requests made so far: [{method, url, headers, body}]. */
export function httpCalls() {
  return [...fake.httpCalls];
}

/** An HTTP answer for `onHttp`. */
export function response(status, body) {
  return new Response(status, body);
}

/** A Message for tests: `message({id: 'a', body: '{"x":1}'})` (body: string or bytes). */
export function message(fields = {}) {
  return new Message(fields);
}
