import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as testing from 'weir/testing';

import JsonDedup from '../index.js';
import { parse } from '../config.js';
import { keyText, lookup, parsePath } from '../path.js';

const filter = new JsonDedup();
const key = (config, body) => filter.dedupKey(config, testing.message({ body }));

test('a bare path names the field', () => {
  assert.equal(key('order.id', '{"order":{"id":"A-17","total":3}}'), 'A-17');
});

test('a json config names the field', () => {
  assert.equal(key('{"field":"order.id"}', '{"order":{"id":17}}'), '17');
});

test('several fields make one key', () => {
  const config = '{"fields":["tenant","order.id"]}';
  assert.equal(key(config, '{"tenant":"t1","order":{"id":9}}'), 't1\u001f9');
  assert.equal(key(config, '{"tenant":"t1"}'), undefined);
});

test('non-json bodies and missing fields have no key', () => {
  assert.equal(key('id', 'not json'), undefined);
  assert.equal(key('id', '{"other":1}'), undefined);
  assert.equal(key('id', '{"id":null}'), undefined);
  assert.equal(key('id', '[1,2]'), undefined);
  assert.equal(filter.dedupKey('id', testing.message({ body: Uint8Array.of(0xff) })), undefined);
});

test('array indices and json pointers reach into arrays', () => {
  const body = '{"items":[{"sku":"x"},{"sku":"y"}]}';
  assert.equal(key('items.1.sku', body), 'y');
  assert.equal(key('/items/0/sku', body), 'x');
});

test('a bad config gives no keys and logs once', () => {
  testing.reset();
  assert.equal(key('{not json', '{"id":1}'), undefined);
  assert.equal(key('{not json', '{"id":1}'), undefined);
  assert.equal(testing.logs().length, 1);
});

test('the forms agree', () => {
  const bare = parse('order.id');
  assert.deepEqual(parse('{"field":"order.id"}'), bare);
  assert.deepEqual(parse(' {"fields":["order.id"]} '), bare);
  assert.deepEqual(parse('/order/id'), bare);
});

test('bad configs are refused', () => {
  for (const bad of ['', '{"fields":[]}', '{"field":"a","fields":["b"]}', '{"feld":"a"}', 'a..b']) {
    assert.throws(() => parse(bad), undefined, bad);
  }
});

test('pointers unescape slashes and tildes', () => {
  const document = { 'a/b': { 'c~d': 1 }, 'x.y': 2 };
  assert.equal(lookup(parsePath('/a~1b/c~0d'), document), 1);
  assert.equal(lookup(parsePath('/x.y'), document), 2);
  assert.equal(lookup(parsePath('x.y'), document), undefined);
});

test('values become keys', () => {
  assert.equal(keyText('a'), 'a');
  assert.equal(keyText(1.5), '1.5');
  assert.equal(keyText(true), 'true');
  assert.equal(keyText({ b: 1, a: 2 }), '{"a":2,"b":1}');
  assert.equal(keyText({ z: [{ y: 1, x: 2 }] }), '{"z":[{"x":2,"y":1}]}');
  assert.equal(keyText(null), undefined);
});
