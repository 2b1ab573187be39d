// Write Weir plugins in JavaScript.
//
// A plugin is an ES module whose default export handles one world of `wit/plugin.wit`:
//
//   consumer-plugin      handle(config, batch) -> Outcome[]        (class Consumer)
//   dedup-filter-plugin  dedupKey(config, message) -> string|undefined  (class DedupFilter)
//   tx-checker-plugin    check(config, half, checks) -> TxState    (class TxChecker; may be async)
//
// The default export may be a subclass of the base class, an instance, a plain object with
// the method, or the function itself. The broker's services are plain functions: `log`,
// `nowMs`, `state`, `publish`, `http`. `weir/testing` backs them with an in-memory double
// for `node --test`. The build recipe (build.sh) generates the component's entry; plugins
// never see the WIT bindings.

import { host } from './host.js';
import { decode, encode } from './utf8.js';

export { decode as utf8Decode, encode as utf8Encode };

/** Bytes of a string (UTF-8) or of bytes (as they are). */
export function toBytes(value) {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (typeof value === 'string') return encode(value);
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer || Array.isArray(value)) return new Uint8Array(value);
  throw new TypeError(`weir: expected a string or bytes, got ${typeof value}`);
}

/** A failure the broker reported for a service call (not granted, quota, allowlist...). */
export class HostError extends Error {
  constructor(message) {
    super(message);
    this.name = 'HostError';
  }
}

function hostCall(f) {
  try {
    return f();
  } catch (error) {
    if (error instanceof HostError) throw error;
    throw new HostError(typeof error === 'string' ? error : String(error?.message ?? error));
  }
}

/** A message as the broker hands it to a plugin. */
export class Message {
  constructor(fields = {}) {
    /** The message id (the producer's, when it chose one). */
    this.id = fields.id ?? '';
    /** The topic it was sent to. */
    this.topic = fields.topic ?? '';
    /** Its queue in that topic. */
    this.queue = fields.queue ?? 0;
    /** Its offset in that queue (a Number). */
    this.offset = Number(fields.offset ?? 0);
    /** Business keys. */
    this.keys = [...(fields.keys ?? [])];
    /** The tag, or undefined. */
    this.tag = fields.tag ?? undefined;
    /** The message group, or undefined. */
    this.messageGroup = fields.messageGroup ?? undefined;
    /** User properties, in order: [[name, value], ...]. */
    this.properties = (fields.properties ?? []).map(([name, value]) => [name, value]);
    /** The payload (a Uint8Array). */
    this.body = toBytes(fields.body);
    /** When the producer created it, ms since the Unix epoch (a Number). */
    this.bornMs = Number(fields.bornMs ?? 0);
    /** Which delivery this is to the consumer, from 1 (0 outside consumers). */
    this.attempt = fields.attempt ?? 0;
  }

  /** The body as text, or undefined when it is not valid UTF-8. */
  text() {
    return decode(this.body);
  }

  /** The body parsed as JSON, or undefined when it is not JSON. */
  json() {
    const text = this.text();
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /** The value of the first property called `name`, or undefined. */
  property(name) {
    const found = this.properties.find(([key]) => key === name);
    return found === undefined ? undefined : found[1];
  }

  /** An Outgoing to `topic` with this message's keys, tag, group, properties and body. */
  toOutgoing(topic) {
    return new Outgoing(topic, this.body, {
      keys: this.keys,
      tag: this.tag,
      messageGroup: this.messageGroup,
      properties: this.properties,
    });
  }
}

/** A message a consumer publishes with `publish`. */
export class Outgoing {
  constructor(topic, body, fields = {}) {
    this.topic = topic;
    this.body = toBytes(body);
    this.keys = [...(fields.keys ?? [])];
    this.tag = fields.tag ?? undefined;
    this.messageGroup = fields.messageGroup ?? undefined;
    this.properties = (fields.properties ?? []).map(([name, value]) => [name, value]);
  }

  /** Adds a business key. */
  key(key) {
    this.keys.push(String(key));
    return this;
  }

  /** Sets the tag. */
  withTag(tag) {
    this.tag = tag;
    return this;
  }

  /** Sets the message group. */
  withGroup(group) {
    this.messageGroup = group;
    return this;
  }

  /** Sets a property, replacing an earlier value of the same name. */
  property(name, value) {
    const slot = this.properties.find(([key]) => key === name);
    if (slot) slot[1] = String(value);
    else this.properties.push([name, String(value)]);
    return this;
  }

  /** Removes every property called `name`. */
  removeProperty(name) {
    this.properties = this.properties.filter(([key]) => key !== name);
    return this;
  }

  /** The body as text, or undefined when it is not valid UTF-8. */
  text() {
    return decode(this.body);
  }
}

const ACK = Object.freeze({ kind: 'ack' });

/** What happens to one message of a consumer's batch. */
export const Outcome = Object.freeze({
  /** Done: ack it. */
  ack: () => ACK,
  /** Failed: deliver it again after `ms` milliseconds (0: the group's backoff). */
  retry: (ms = 0) => {
    const delay = Math.floor(Number(ms));
    if (!Number.isFinite(delay) || delay < 0) throw new RangeError(`weir: bad retry delay ${ms}`);
    return Object.freeze({ kind: 'retry', ms: delay });
  },
  /** Give up: dead-letter it with `reason`. */
  deadLetter: (reason) => Object.freeze({ kind: 'dead-letter', reason: String(reason) }),
  /** Retry with the group's backoff. */
  RETRY_WITH_BACKOFF: Object.freeze({ kind: 'retry', ms: 0 }),
});

/** A transaction checker's answers. */
export const TxState = Object.freeze({
  COMMIT: 'commit',
  ROLLBACK: 'rollback',
  UNKNOWN: 'unknown',
});

/** Base class of consumers: override `handle(config, batch)`. */
export class Consumer {
  handle(_config, batch) {
    return batch.map(() => Outcome.ack());
  }
}

/** Base class of dedup filters: override `dedupKey(config, message)`. */
export class DedupFilter {
  dedupKey(_config, _message) {
    return undefined;
  }
}

/**
 * Base class of transaction checkers: override `check(config, half, checks)`, which
 * answers a TxState or, as an async method (awaiting `fetch`, say), a promise of one; an
 * async check needs the StarlingMonkey backend.
 */
export class TxChecker {
  check(_config, _half, _checks) {
    return TxState.UNKNOWN;
  }
}

function logAt(level) {
  return (...parts) => host().log(level, parts.map(String).join(' '));
}

/** The broker's log, tagged with the binding: `log.info('...')`. */
export const log = Object.freeze({
  trace: logAt('trace'),
  debug: logAt('debug'),
  info: logAt('info'),
  warn: logAt('warn'),
  error: logAt('error'),
});

/** Milliseconds since the Unix epoch (a Number). */
export function nowMs() {
  return host().nowMs();
}

function checkKey(key) {
  if (typeof key !== 'string') throw new TypeError('weir: state keys are strings');
  return key;
}

/** The binding's key-value state (shared by its instances; see wit/plugin.wit). */
export const state = Object.freeze({
  /** The value under `key` (a Uint8Array), or undefined when absent or expired. */
  get(key) {
    return host().stateGet(checkKey(key));
  },
  /** The value under `key` as text, or undefined. */
  getText(key) {
    const bytes = host().stateGet(checkKey(key));
    return bytes === undefined ? undefined : decode(bytes);
  },
  /** Stores `value` (string or bytes) for `ttlMs` (0: until deleted); throws HostError. */
  set(key, value, ttlMs = 0) {
    const ttl = Math.floor(Number(ttlMs));
    if (!Number.isFinite(ttl) || ttl < 0) throw new RangeError(`weir: bad ttl ${ttlMs}`);
    hostCall(() => host().stateSet(checkKey(key), toBytes(value), ttl));
  },
  /** Deletes the value under `key`. */
  delete(key) {
    host().stateDelete(checkKey(key));
  },
});

/** Publishes `message` (an Outgoing); answers its id; throws HostError. */
export function publish(message) {
  if (!(message instanceof Outgoing)) message = new Outgoing(message.topic, message.body, message);
  if (typeof message.topic !== 'string' || message.topic === '') {
    throw new TypeError('weir: publish needs a topic');
  }
  return hostCall(() =>
    host().publish({
      topic: message.topic,
      keys: message.keys.map(String),
      tag: message.tag ?? undefined,
      messageGroup: message.messageGroup ?? undefined,
      properties: message.properties.map(([name, value]) => [String(name), String(value)]),
      body: toBytes(message.body),
    }),
  );
}

/** An HTTP answer: `status`, `body` (bytes), `ok`, `text()`, `json()`. */
export class Response {
  constructor(status, body) {
    this.status = status;
    this.body = toBytes(body);
  }

  /** Whether the status is 2xx. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The body as text, or undefined when it is not valid UTF-8. */
  text() {
    return decode(this.body);
  }

  /** The body as JSON, or undefined. */
  json() {
    return Message.prototype.json.call(this);
  }
}

function headerList(headers) {
  if (headers === undefined || headers === null) return [];
  const entries = Array.isArray(headers) ? headers : Object.entries(headers);
  return entries.map(([name, value]) => [String(name), String(value)]);
}

function request(method, url, headers, body) {
  const [status, answer] = hostCall(() =>
    host().httpRequest(method, String(url), headerList(headers), toBytes(body)),
  );
  return new Response(status, answer);
}

/** HTTP through the broker, to URLs on the binding's allowlist; throws HostError. */
export const http = Object.freeze({
  /** GET `url`; `headers` an object or [[name, value]]. */
  get: (url, headers) => request('GET', url, headers, undefined),
  /** POST `body` (string or bytes) to `url`. */
  post: (url, headers, body) => request('POST', url, headers, body),
  /** Any method the broker offers (GET, POST). */
  request,
});

/**
 * Keeps the parsed form of a config string: `parse` runs once per distinct config (the
 * broker passes the same string on every call).
 */
export class ConfigCache {
  constructor(parse) {
    this.parse = parse;
    this.config = undefined;
    this.value = undefined;
  }

  get(config) {
    if (this.config !== config) {
      this.value = this.parse(config);
      this.config = config;
    }
    return this.value;
  }
}
