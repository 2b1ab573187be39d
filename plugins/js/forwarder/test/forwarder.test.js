import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Message, Outcome } from 'weir';
import * as testing from 'weir/testing';

import Forwarder from '../index.js';
import { parse } from '../config.js';
import { forward } from '../transform.js';

const forwarder = new Forwarder();
const message = (id, body, attempt = 1) => testing.message({ id, topic: 'orders', body, attempt });
const text = (bytes) => Buffer.from(bytes).toString('utf8');

test('forwards and acks every message', () => {
  testing.reset();
  const config = '{"to":"orders-eu","add_properties":{"region":"eu"},"uppercase":true}';
  assert.deepEqual(forwarder.handle(config, [message('a', 'one'), message('b', 'two')]), [
    Outcome.ack(),
    Outcome.ack(),
  ]);
  const published = testing.published();
  assert.equal(published.length, 2);
  assert.equal(published[0].topic, 'orders-eu');
  assert.equal(text(published[0].body), 'ONE');
  assert.deepEqual(published[1].properties, [['region', 'eu']]);
});

test('a bare topic is a config', () => {
  testing.reset();
  assert.deepEqual(forwarder.handle('audit', [message('a', 'x')]), [Outcome.ack()]);
  assert.equal(testing.published()[0].topic, 'audit');
});

test('a failed publish retries it and the rest of the batch', () => {
  testing.reset();
  testing.failPublish('topic orders-eu does not exist');
  const outcomes = forwarder.handle('{"to":"orders-eu","retry_ms":500}', [message('a', '1'), message('b', '2')]);
  assert.deepEqual(outcomes, [Outcome.retry(500), Outcome.retry(500)]);
  assert.equal(testing.logs().length, 1, 'one attempt, one warning');
});

test('a failed publish before `dead_letter_after` retries', () => {
  testing.reset();
  testing.failPublish('topic orders-eu does not exist');
  const config = '{"to":"orders-eu","retry_ms":500,"dead_letter_after":3}';
  assert.deepEqual(forwarder.handle(config, [message('a', '1', 2)]), [Outcome.retry(500)]);
  assert.equal(testing.logs().length, 1);
  assert.match(testing.logs()[0].message, /; retrying$/);
});

test('a failed publish from `dead_letter_after` on dead-letters it and retries the rest', () => {
  testing.reset();
  testing.failPublish('topic orders-eu does not exist');
  const config = '{"to":"orders-eu","retry_ms":500,"dead_letter_after":3}';
  for (const attempt of [3, 4]) {
    const batch = [message('a', '1', attempt), message('b', '2'), message('c', '3', 7)];
    const reason = `forwarder: publishing a to orders-eu failed on attempt ${attempt}: topic orders-eu does not exist`;
    assert.deepEqual(forwarder.handle(config, batch), [
      Outcome.deadLetter(reason),
      Outcome.retry(500),
      Outcome.retry(500),
    ]);
    assert.deepEqual(testing.logs().at(-1), { level: 'warn', message: `${reason}; dead-lettering` });
  }
  assert.equal(testing.logs().length, 2, 'one publish a batch');
  assert.equal(testing.published().length, 0);
});

test('`dead_letter_after` leaves successful publishes alone', () => {
  testing.reset();
  const outcomes = forwarder.handle('{"to":"orders-eu","dead_letter_after":1}', [message('a', '1', 9)]);
  assert.deepEqual(outcomes, [Outcome.ack()]);
  assert.equal(testing.published().length, 1);
  assert.equal(testing.logs().length, 0);
});

test('a bad config retries everything with the group backoff, logged once', () => {
  testing.reset();
  const outcomes = forwarder.handle('{"too":"x"}', [message('a', '1'), message('b', '2')]);
  assert.deepEqual(outcomes, [Outcome.RETRY_WITH_BACKOFF, Outcome.RETRY_WITH_BACKOFF]);
  forwarder.handle('{"too":"x"}', [message('c', '3')]);
  assert.equal(testing.published().length, 0);
  assert.equal(testing.logs().length, 1);
  assert.equal(testing.logs()[0].level, 'error');
});

test('only `to` is required', () => {
  const full = parse('{"to":"t"}');
  assert.deepEqual(parse('t'), full);
  assert.equal(full.uppercase, false);
  assert.equal(full.retryMs, 0);
  assert.equal(full.deadLetterAfter, undefined);
});

test('`dead_letter_after` is an attempt from 1, null for none', () => {
  assert.equal(parse('{"to":"t","dead_letter_after":3}').deadLetterAfter, 3);
  assert.deepEqual(parse('{"to":"t","dead_letter_after":null}'), parse('t'));
});

test('bad configs are refused', () => {
  for (const bad of ['', '{"to":" "}', '{"to":"t","upercase":true}', '{"to":"t","retry_ms":-1}',
    '{"to":"t","retry_ms":1.5}', '{"to":1}', '{"to":"t","add_properties":{"a":1}}', '{not json',
    '{"to":"t","dead_letter_after":0}', '{"to":"t","dead_letter_after":-1}', '{"to":"t","dead_letter_after":1.5}',
    '{"to":"t","dead_letter_after":"3"}', '{"to":"t","dead_letter_after":true}',
    '{"to":"t","dead_letter_after":4294967296}']) {
    assert.throws(() => parse(bad), undefined, bad);
  }
});

test('applies every change', () => {
  const config = parse(`{"to":"eu","add_properties":{"region":"eu","kind":"new"},
    "remove_properties":["internal"],"tag":"fwd","uppercase":true,"origin_property":"from"}`);
  const out = forward(config, new Message({
    id: 'm-1',
    keys: ['k'],
    tag: 'old',
    messageGroup: 'g',
    properties: [['kind', 'old'], ['internal', 'x']],
    body: 'grüße',
  }));
  assert.equal(out.topic, 'eu');
  assert.deepEqual(out.keys, ['k']);
  assert.equal(out.tag, 'fwd');
  assert.equal(out.messageGroup, 'g');
  assert.deepEqual(out.properties, [['kind', 'new'], ['region', 'eu'], ['from', 'm-1']]);
  assert.equal(text(out.body), 'GRÜSSE');
});

test('binary bodies pass unchanged', () => {
  const config = parse('{"to":"t","uppercase":true}');
  const out = forward(config, new Message({ body: Uint8Array.of(0xff, 0x61) }));
  assert.deepEqual(out.body, Uint8Array.of(0xff, 0x61));
});
