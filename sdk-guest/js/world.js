// The boundary between the component's WIT bindings and the SDK, used by the entry module
// that build.sh generates; not part of the API.
//
// The two backends map the WIT differently, and this file absorbs it:
//   u64 arguments      QuickJS: Number          StarlingMonkey: bigint
//   option none        QuickJS: null            StarlingMonkey: undefined
//   result errors      QuickJS: the error value  StarlingMonkey: ComponentError{payload}
//   import shape       QuickJS: default export   StarlingMonkey: named exports

import { install } from './host.js';
import { Message, Outcome, TxState, toBytes } from './weir.js';

function errorText(error) {
  if (typeof error === 'string') return error;
  if (error && typeof error.payload === 'string') return error.payload;
  if (error && error.payload !== undefined) return String(error.payload);
  return String(error?.message ?? error);
}

function bytesOf(value) {
  if (value instanceof Uint8Array) return value;
  return Uint8Array.from(value);
}

/** Installs the WIT imports `wit` (the `weir:plugin/host` module) as the SDK's host. */
export function installHost(witModule, backend) {
  const wit = witModule.default ?? witModule;
  const bigints = backend !== 'quickjs';
  const u64 = bigints ? (n) => BigInt(n) : (n) => n;
  const none = bigints ? undefined : null;
  const opt = (v) => (v === undefined || v === null ? none : v);
  const call = (f) => {
    try {
      return f();
    } catch (error) {
      throw errorText(error);
    }
  };
  install({
    log: (level, message) => wit.log(level, message),
    nowMs: () => Number(wit.nowMs()),
    stateGet: (key) => {
      const value = wit.stateGet(key);
      return value === undefined || value === null ? undefined : bytesOf(value);
    },
    stateSet: (key, bytes, ttlMs) => call(() => wit.stateSet(key, bytes, u64(ttlMs))),
    stateDelete: (key) => wit.stateDelete(key),
    publish: (m) =>
      call(() =>
        wit.publish({
          topic: m.topic,
          keys: m.keys,
          tag: opt(m.tag),
          messageGroup: opt(m.messageGroup),
          properties: m.properties,
          body: m.body,
        }),
      ),
    httpRequest: (method, url, headers, body) => {
      const [status, answer] = call(() => wit.httpRequest(method, url, headers, body));
      return [Number(status), bytesOf(answer)];
    },
  });
  return { u64 };
}

/** The handler `method` of a plugin module: a class, an instance, an object or a function. */
export function resolveHandler(pluginModule, method) {
  const plugin = pluginModule.default ?? pluginModule[method] ?? pluginModule;
  if (typeof plugin === 'function') {
    if (plugin.prototype && typeof plugin.prototype[method] === 'function') {
      const instance = new plugin();
      return instance[method].bind(instance);
    }
    return plugin;
  }
  if (plugin && typeof plugin[method] === 'function') return plugin[method].bind(plugin);
  throw new Error(`weir: the plugin's default export has no ${method}() method`);
}

function isThenable(value) {
  return value !== null && typeof value === 'object' && typeof value.then === 'function';
}

/** Refuses a promise where the world needs the answer itself. */
function notAsync(answer, method) {
  if (isThenable(answer)) {
    throw new Error(`weir: ${method}() answered a promise; only a tx checker's check() may be async`);
  }
  return answer;
}

/**
 * The Message of a record the WIT bindings just lifted: the per-message path of the
 * exports, where the constructor's defensive copies are pure cost. The record is fresh,
 * nobody else holds it, and its fields are a Message's, in the constructor's order, so it
 * becomes the Message itself (its prototype changed, none options made undefined, u64s
 * made Numbers): the same own properties, in the same order, as `new Message(record)`.
 * Anything else (a frozen record, a missing field) takes the constructor.
 */
function toMessage(wit) {
  // Module constants, and few calls: in QuickJS each global lookup and each call costs
  // about as much as the rest of this function.
  const properties = wit.properties;
  if (
    !(wit.keys instanceof Array) ||
    !(properties instanceof Array) ||
    !('messageGroup' in wit) ||
    getPrototypeOf(wit) !== OBJECT
  ) {
    return new Message(wit);
  }
  try {
    setPrototypeOf(wit, MESSAGE); // throws if it is frozen
  } catch {
    return new Message(wit);
  }
  if (wit.tag === null) wit.tag = undefined;
  if (wit.messageGroup === null) wit.messageGroup = undefined;
  if (typeof wit.offset !== 'number') wit.offset = Number(wit.offset ?? 0);
  if (typeof wit.bornMs !== 'number') wit.bornMs = Number(wit.bornMs ?? 0);
  if (!(wit.body instanceof BYTES)) wit.body = toBytes(wit.body);
  if (properties.length !== 0) wit.properties = adoptPairs(properties);
  return wit;
}

const { getPrototypeOf, setPrototypeOf } = Object;
const OBJECT = Object.prototype;
const MESSAGE = Message.prototype;
const BYTES = Uint8Array;

/** `pairs` itself when it is an array of two-element arrays, else a copy that is. */
function adoptPairs(pairs) {
  if (!Array.isArray(pairs)) return (pairs ?? []).map(([name, value]) => [name, value]);
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i];
    if (!Array.isArray(pair) || pair.length !== 2) return pairs.map(([name, value]) => [name, value]);
  }
  return pairs;
}

const ACK = Outcome.ack();

// The WIT outcomes are lowered as soon as handle() answers, so the constant ones are
// shared rather than allocated per message.
const WIT_ACK = Object.freeze({ tag: 'ack' });

/** The WIT form of an SDK outcome. */
function toWitOutcome(outcome, u64) {
  switch (outcome?.kind) {
    case 'ack':
      return WIT_ACK;
    case 'retry':
      return { tag: 'retry', val: u64(outcome.ms) };
    case 'dead-letter':
      return { tag: 'dead-letter', val: outcome.reason };
    default:
      throw new Error(`weir: not an Outcome: ${JSON.stringify(outcome)}`);
  }
}

/** The `consumer` export. */
export function consumerExport(pluginModule, witHost, backend) {
  const { u64 } = installHost(witHost, backend);
  const handle = resolveHandler(pluginModule, 'handle');
  return {
    // Plain loops that append: the per-message path of every batch.
    handle(config, batch) {
      const n = batch.length;
      const messages = [];
      for (let i = 0; i < n; i++) messages.push(toMessage(batch[i]));
      const outcomes = notAsync(handle(config, messages), 'handle');
      if (!Array.isArray(outcomes) || outcomes.length !== n) {
        throw new Error(`weir: handle() answered ${outcomes?.length} outcomes for ${n} messages`);
      }
      const answer = [];
      for (let i = 0; i < n; i++) {
        const outcome = outcomes[i];
        answer.push(outcome === ACK ? WIT_ACK : toWitOutcome(outcome, u64));
      }
      return answer;
    },
  };
}

/** The `dedup-filter` export. */
export function dedupFilterExport(pluginModule, witHost, backend) {
  installHost(witHost, backend);
  const none = backend === 'quickjs' ? null : undefined;
  const dedupKey = resolveHandler(pluginModule, 'dedupKey');
  return {
    dedupKey(config, message) {
      const key = notAsync(dedupKey(config, toMessage(message)), 'dedupKey');
      return key === undefined || key === null ? none : String(key);
    },
  };
}

const TX_STATES = new Set(Object.values(TxState));

function txState(answer) {
  if (!TX_STATES.has(answer)) throw new Error(`weir: not a TxState: ${answer}`);
  return answer;
}

/**
 * The `tx-checker` export. `check` may answer a TxState or a promise of one (an async
 * check that awaits `fetch`). With StarlingMonkey the export then answers the promise:
 * the componentizer runs the component's event loop until it settles and returns its
 * value to the broker. QuickJS cannot wait for a promise in a synchronous export (and
 * has no `fetch`), so there a promise is an error that says so.
 */
export function txCheckerExport(pluginModule, witHost, backend) {
  installHost(witHost, backend);
  const check = resolveHandler(pluginModule, 'check');
  return {
    check(config, half, checks) {
      const answer = check(config, toMessage(half), Number(checks));
      if (!isThenable(answer)) return txState(answer);
      if (backend === 'quickjs') {
        throw new Error(
          'weir: check() answered a promise; an async check needs the starlingmonkey backend',
        );
      }
      return Promise.resolve(answer).then(txState);
    },
  };
}

export { toBytes };
