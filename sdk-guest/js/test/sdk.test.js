// The SDK's own tests, against the in-memory double: node --test (in sdk-guest/js).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as testing from '../testing.js';
import {
  ConfigCache,
  HostError,
  Message,
  Outcome,
  Outgoing,
  http,
  log,
  nowMs,
  publish,
  state,
  utf8Decode,
  utf8Encode,
} from '../weir.js';
import { consumerExport, dedupFilterExport, resolveHandler, txCheckerExport } from '../world.js';

test('utf8 round-trips and refuses invalid input', () => {
  for (const text of ['', 'abc', 'grüße', '€', '😀 ok', 'a\u0000b']) {
    assert.deepEqual(utf8Encode(text), new Uint8Array(Buffer.from(text, 'utf8')));
    assert.equal(utf8Decode(utf8Encode(text)), text);
  }
  for (const bad of [[0xff], [0xc3], [0xe2, 0x82], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80]]) {
    assert.equal(utf8Decode(Uint8Array.from(bad)), undefined, String(bad));
  }
});

test('message helpers', () => {
  const message = new Message({ id: 'm', body: '{"a":1}', properties: [['region', 'eu']] });
  assert.deepEqual(message.json(), { a: 1 });
  assert.equal(message.text(), '{"a":1}');
  assert.equal(message.property('region'), 'eu');
  assert.equal(message.property('missing'), undefined);
  assert.equal(new Message({ body: Uint8Array.of(0xff) }).text(), undefined);
  assert.equal(new Message({ body: 'not json' }).json(), undefined);
  const copy = new Message({ keys: ['k'], tag: 't', body: 'x' }).toOutgoing('other');
  assert.equal(copy.topic, 'other');
  assert.deepEqual(copy.keys, ['k']);
  assert.equal(copy.tag, 't');
  const out = new Outgoing('t', 'b').property('a', '1').property('a', '2');
  assert.deepEqual(out.properties, [['a', '2']]);
});

test('outcomes', () => {
  assert.deepEqual(Outcome.ack(), { kind: 'ack' });
  assert.deepEqual(Outcome.retry(250), { kind: 'retry', ms: 250 });
  assert.deepEqual(Outcome.retry(), Outcome.RETRY_WITH_BACKOFF);
  assert.deepEqual(Outcome.deadLetter('bad'), { kind: 'dead-letter', reason: 'bad' });
  assert.throws(() => Outcome.retry(-1), RangeError);
});

test('the double records logs, publishes and http calls', () => {
  testing.reset();
  testing.setNowMs(1000);
  assert.equal(nowMs(), 1000);
  log.info('hello', 1);
  assert.deepEqual(testing.logs(), [{ level: 'info', message: 'hello 1' }]);
  assert.equal(publish(new Outgoing('audit', 'x').key('k')), 'test-1');
  assert.equal(testing.published()[0].topic, 'audit');
  testing.failPublish('publishing is not granted');
  assert.throws(() => publish(new Outgoing('audit', 'x')), (e) => e instanceof HostError && e.message === 'publishing is not granted');
  assert.throws(() => http.get('http://x/'), HostError);
  testing.onHttp((call) => testing.response(call.url.endsWith('/1') ? 200 : 404, 'commit'));
  const answer = http.get('http://svc/tx/1', { accept: 'text/plain' });
  assert.equal(answer.ok, true);
  assert.equal(answer.text(), 'commit');
  assert.equal(http.post('http://svc/tx/2', [], 'b').status, 404);
  assert.deepEqual(testing.httpCalls()[1].headers, [['accept', 'text/plain']]);
  assert.equal(testing.httpCalls()[2].method, 'POST');
});

test('state expires with the clock; a zero ttl keeps it', () => {
  testing.reset();
  testing.setNowMs(1000);
  state.set('k', 'v', 500);
  state.set('forever', Uint8Array.of(1, 2), 0);
  testing.setNowMs(1499);
  assert.equal(state.getText('k'), 'v');
  testing.setNowMs(1500);
  assert.equal(state.get('k'), undefined);
  testing.setNowMs(Number.MAX_SAFE_INTEGER);
  assert.deepEqual(state.get('forever'), Uint8Array.of(1, 2));
  state.delete('forever');
  assert.equal(state.get('forever'), undefined);
  testing.failStateSet('quota');
  assert.throws(() => state.set('k', 'v'), HostError);
});

test('the config cache parses again only when the config changes', () => {
  let parses = 0;
  const cache = new ConfigCache((config) => {
    parses++;
    return config.length;
  });
  assert.equal(cache.get('abc'), 3);
  assert.equal(cache.get('abc'), 3);
  assert.equal(parses, 1);
  assert.equal(cache.get('de'), 2);
  assert.equal(parses, 2);
});

test('handlers resolve from classes, instances, objects and functions', () => {
  class C {
    handle() {
      return 'class';
    }
  }
  assert.equal(resolveHandler({ default: C }, 'handle')(), 'class');
  assert.equal(resolveHandler({ default: new C() }, 'handle')(), 'class');
  assert.equal(resolveHandler({ default: { handle: () => 'object' } }, 'handle')(), 'object');
  assert.equal(resolveHandler({ default: () => 'function' }, 'handle')(), 'function');
  assert.equal(resolveHandler({ handle: () => 'named' }, 'handle')(), 'named');
  assert.throws(() => resolveHandler({ default: {} }, 'handle'));
});

// A fake of the WIT imports, in each backend's shapes.
function witHost(backend, calls) {
  const bigints = backend === 'starlingmonkey';
  return {
    log: (level, message) => calls.push(['log', level, message]),
    nowMs: () => (bigints ? 5n : 5),
    stateGet: () => (bigints ? undefined : null),
    stateSet: (key, value, ttl) => {
      calls.push(['stateSet', key, typeof ttl]);
      if (bigints) {
        const error = new Error('ComponentError');
        error.payload = 'quota';
        throw error;
      }
      throw 'quota';
    },
    stateDelete: () => {},
    publish: (m) => {
      calls.push(['publish', m.tag]);
      return 'id-1';
    },
    httpRequest: () => [200, [104, 105]],
  };
}

for (const backend of ['quickjs', 'starlingmonkey']) {
  test(`the boundary converts for ${backend}`, () => {
    const calls = [];
    const plugin = {
      default: {
        handle: (_config, batch) =>
          batch.map((m) => {
            assert.equal(typeof m.offset, 'number');
            assert.equal(m.tag, undefined);
            assert.equal(nowMs(), 5);
            assert.equal(state.get('x'), undefined);
            assert.throws(() => state.set('x', 'y', 10), (e) => e.message === 'quota');
            assert.equal(publish(new Outgoing('t', 'b')), 'id-1');
            assert.equal(http.get('http://a/').text(), 'hi');
            return m.text() === 'r' ? Outcome.retry(7) : Outcome.deadLetter('no');
          }),
      },
    };
    const exported = consumerExport(plugin, witHost(backend, calls), backend);
    const wit = (body) => ({
      id: 'a', topic: 't', queue: 0, offset: backend === 'quickjs' ? 3 : 3n, keys: [],
      tag: backend === 'quickjs' ? null : undefined, properties: [],
      body: Uint8Array.from(Buffer.from(body)), bornMs: 1, attempt: 1,
    });
    const outcomes = exported.handle('', [wit('r'), wit('d')]);
    const ms = backend === 'quickjs' ? 7 : 7n;
    assert.deepEqual(outcomes, [{ tag: 'retry', val: ms }, { tag: 'dead-letter', val: 'no' }]);
    assert.deepEqual(calls[0], ['stateSet', 'x', backend === 'quickjs' ? 'number' : 'bigint']);
    assert.deepEqual(calls[1], ['publish', backend === 'quickjs' ? null : undefined]);

    const none = backend === 'quickjs' ? null : undefined;
    const dedup = dedupFilterExport({ default: (_c, m) => m.json()?.id }, witHost(backend, []), backend);
    assert.equal(dedup.dedupKey('', wit('{"id":"x"}')), 'x');
    assert.equal(dedup.dedupKey('', wit('nope')), none);
    const checker = txCheckerExport({ default: () => 'commit' }, witHost(backend, []), backend);
    assert.equal(checker.check('', wit(''), 1), 'commit');
    const bad = txCheckerExport({ default: () => 'maybe' }, witHost(backend, []), backend);
    assert.throws(() => bad.check('', wit(''), 1));
  });
}

test('an async check answers a promise of the state with starlingmonkey', async () => {
  const half = { id: 'a', topic: 't', queue: 0, offset: 0n, keys: [], properties: [], body: new Uint8Array(), bornMs: 0n, attempt: 0 };
  const checker = txCheckerExport(
    { default: { check: async (_config, m, checks) => (m.id === 'a' && checks === 2 ? 'rollback' : 'commit') } },
    witHost('starlingmonkey', []),
    'starlingmonkey',
  );
  const answer = checker.check('', half, 2);
  assert.ok(answer instanceof Promise);
  assert.equal(await answer, 'rollback');
  // a thenable counts as a promise; a bad state or a rejection still fails the call
  const thenable = txCheckerExport({ default: () => ({ then: (ok) => ok('unknown') }) }, witHost('starlingmonkey', []), 'starlingmonkey');
  assert.equal(await thenable.check('', half, 0), 'unknown');
  const bad = txCheckerExport({ default: async () => 'maybe' }, witHost('starlingmonkey', []), 'starlingmonkey');
  await assert.rejects(bad.check('', half, 0), /not a TxState: maybe/);
  const failing = txCheckerExport({ default: async () => { throw new Error('boom'); } }, witHost('starlingmonkey', []), 'starlingmonkey');
  await assert.rejects(failing.check('', half, 0), /boom/);
  // the synchronous path answers the state itself
  const sync = txCheckerExport({ default: () => 'commit' }, witHost('starlingmonkey', []), 'starlingmonkey');
  assert.equal(sync.check('', half, 0), 'commit');
  testing.reset();
});

test('an async check is refused with quickjs', () => {
  const half = { id: 'a', topic: 't', queue: 0, offset: 0, keys: [], properties: [], body: new Uint8Array(), bornMs: 0, attempt: 0 };
  const checker = txCheckerExport({ default: async () => 'commit' }, witHost('quickjs', []), 'quickjs');
  assert.throws(() => checker.check('', half, 0), /async check needs the starlingmonkey backend/);
  testing.reset();
});

test('only check may be async', () => {
  const message = { id: 'a', topic: 't', queue: 0, offset: 0n, keys: [], properties: [], body: new Uint8Array(), bornMs: 0n, attempt: 1 };
  const consumer = consumerExport({ default: async (_c, batch) => batch.map(() => Outcome.ack()) }, witHost('starlingmonkey', []), 'starlingmonkey');
  assert.throws(() => consumer.handle('', [message]), /handle\(\) answered a promise/);
  const dedup = dedupFilterExport({ default: async () => 'k' }, witHost('starlingmonkey', []), 'starlingmonkey');
  assert.throws(() => dedup.dedupKey('', message), /dedupKey\(\) answered a promise/);
  testing.reset();
});

test('a consumer gets the Message that new Message(record) builds', () => {
  const seen = [];
  const consumer = consumerExport(
    { default: (_c, batch) => { seen.push(...batch); return batch.map((_, i) => (i === 1 ? { kind: 'ack' } : Outcome.ack())); } },
    witHost('quickjs', []),
    'quickjs',
  );
  const record = (extra = {}) => ({
    id: 'a', topic: 't', queue: 2, offset: 3, keys: ['k1', 'k2'], tag: 'x', messageGroup: null,
    properties: [['p', 'v'], ['q', 'w']], body: Uint8Array.of(1, 2), bornMs: 4, attempt: 1, ...extra,
  });
  const frozen = Object.freeze(record());
  const records = [
    record(),
    record({ tag: null, messageGroup: 'g', properties: [] }),
    record({ offset: 9n, bornMs: 8n, tag: undefined, messageGroup: undefined, body: [7, 8] }),
    frozen,
    { id: 'b', offset: 1, keys: [], properties: [] }, // no messageGroup: the constructor
    record({ properties: [['p', 'v', 'extra']] }), // not pairs: copied as the constructor does
  ];
  const expected = records.map((r) => new Message(r));
  const outcomes = consumer.handle('', records);
  assert.deepEqual(outcomes, records.map(() => ({ tag: 'ack' })));
  assert.equal(seen.length, records.length);
  seen.forEach((message, i) => {
    assert.ok(message instanceof Message, `${i}`);
    assert.deepEqual(Object.keys(message), Object.keys(expected[i]), `${i}`);
    assert.deepStrictEqual({ ...message }, { ...expected[i] }, `${i}`);
    assert.equal(Object.getPrototypeOf(message), Message.prototype);
  });
  assert.notEqual(seen[3], frozen);
  // a plugin may change its messages
  seen[0].tag = 'changed';
  seen[0].keys.push('k3');
  assert.equal(seen[0].tag, 'changed');
  testing.reset();
});

test('a batch answered with the wrong number of outcomes fails', () => {
  const exported = consumerExport({ default: () => [] }, witHost('quickjs', []), 'quickjs');
  const message = { id: 'a', topic: 't', queue: 0, offset: 0, keys: [], properties: [], body: new Uint8Array(), bornMs: 0, attempt: 1 };
  assert.throws(() => exported.handle('', [message]), /0 outcomes for 1 messages/);
  // the double is back for the other tests
  testing.reset();
});
