import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';

import { TxState } from 'weir';
import * as testing from 'weir/testing';

import HttpTxChecker from '../index.js';
import { stateOf } from '../answer.js';
import { base64, body } from '../callback.js';
import { parse } from '../config.js';
import { parseTemplate, render } from '../template.js';

// A stand-in for the producer's service: answers by path, records every request.
const answers = new Map();
const requests = [];
let server;
let base;

before(async () => {
  server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const [status, answer, headers] = answers.get(request.url.split('?')[0]) ?? [404, 'no such transaction'];
      response.writeHead(status, headers);
      response.end(answer);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

function fresh() {
  testing.reset();
  answers.clear();
  requests.length = 0;
}

const checker = new HttpTxChecker();
const half = (fields = {}) =>
  testing.message({ id: 't1', topic: 'orders', keys: ['order-1'], body: '{}', ...fields });

test('a get maps plain words and json answers', async () => {
  fresh();
  answers.set('/tx/t1', [200, 'commit']);
  answers.set('/tx/t2', [200, ' ROLLBACK\n']);
  answers.set('/tx/t3', [200, '{"state":"commit"}']);
  answers.set('/tx/t4', [200, '{"state":"Rollback","extra":1}']);
  answers.set('/tx/t5', [200, '{"state":"unknown"}']);
  answers.set('/tx/t6', [200, 'maybe']);
  const config = `${base}/tx/{transaction}`;
  const results = [];
  for (const id of ['t1', 't2', 't3', 't4', 't5', 't6']) {
    results.push(await checker.check(config, half({ id }), 0));
  }
  assert.deepEqual(results, ['commit', 'rollback', 'commit', 'rollback', 'unknown', 'unknown']);
  assert.ok(requests.every((r) => r.method === 'GET'));
  assert.deepEqual(
    requests.map((r) => r.url),
    ['/tx/t1', '/tx/t2', '/tx/t3', '/tx/t4', '/tx/t5', '/tx/t6'],
  );
});

test('check answers a promise', async () => {
  fresh();
  answers.set('/tx/t1', [200, 'commit']);
  const answer = checker.check(`${base}/tx/{id}`, half(), 0);
  assert.ok(answer instanceof Promise);
  assert.equal(await answer, TxState.COMMIT);
});

test('a 404 is unknown unless not_found says rollback', async () => {
  fresh();
  assert.equal(await checker.check(`${base}/tx/{transaction}`, half(), 0), 'unknown');
  const config = JSON.stringify({ url: `${base}/tx/{transaction}`, not_found: 'rollback' });
  assert.equal(await checker.check(config, half(), 0), 'rollback');
  assert.equal(requests.length, 2);
});

test('errors, redirects and other statuses are unknown', async () => {
  fresh();
  answers.set('/tx/busy', [503, 'commit']);
  answers.set('/tx/moved', [302, 'commit', { location: '/tx/ok' }]);
  answers.set('/tx/ok', [200, 'commit']);
  answers.set('/tx/binary', [200, Buffer.from([0xff, 0xfe])]);
  answers.set('/tx/empty', [200, '']);
  const config = `${base}/tx/{transaction}`;
  for (const id of ['busy', 'moved', 'binary', 'empty']) {
    assert.equal(await checker.check(config, half({ id }), 0), 'unknown', id);
  }
  assert.ok(!requests.some((r) => r.url === '/tx/ok'), 'redirects are not followed');
  assert.equal(testing.logs().filter((l) => l.level === 'warn').length, 0);
});

test('a service that does not answer is unknown and logged', async () => {
  fresh();
  // A port nothing listens on: the closed server's.
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const port = closed.address().port;
  closed.close();
  await once(closed, 'close');
  assert.equal(await checker.check(`http://127.0.0.1:${port}/tx/{id}`, half(), 0), 'unknown');
  const warnings = testing.logs().filter((l) => l.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].message, /asking http:\/\/127\.0\.0\.1:\d+\/tx\/t1 about transaction t1 failed/);
});

test('a post sends the callback body and the headers', async () => {
  fresh();
  answers.set('/check', [200, '{"state":"commit"}']);
  const config = JSON.stringify({
    url: `${base}/check`,
    method: 'POST',
    headers: { authorization: 'Bearer s3cret' },
  });
  assert.equal(await checker.check(config, half({ properties: [['b', '2'], ['a', '1']], bornMs: 5 }), 2), 'commit');
  const [request] = requests;
  assert.equal(request.method, 'POST');
  assert.equal(request.headers.authorization, 'Bearer s3cret');
  assert.equal(request.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(request.body), {
    transaction: 't1',
    topic: 'orders',
    checks: 2,
    message: {
      id: 't1', topic: 'orders', keys: ['order-1'], properties: { a: '1', b: '2' }, born_ms: 5, body: '{}',
    },
  });
});

test('a get sends the configured headers; a content type of the config wins', async () => {
  fresh();
  answers.set('/tx/t1', [200, 'commit']);
  answers.set('/check', [200, 'commit']);
  await checker.check(JSON.stringify({ url: `${base}/tx/{id}`, headers: { 'x-tenant': 'eu' } }), half(), 0);
  await checker.check(
    JSON.stringify({ url: `${base}/check`, method: 'POST', headers: { 'Content-Type': 'application/vnd.tx+json' } }),
    half(),
    0,
  );
  assert.equal(requests[0].headers['x-tenant'], 'eu');
  assert.equal(requests[1].headers['content-type'], 'application/vnd.tx+json');
});

test('placeholders are filled and percent-encoded', async () => {
  fresh();
  const template = parseTemplate('http://svc/{topic}/tx/{transaction}?k={key}&n={checks}&t={tag}');
  const message = testing.message({ id: '01J/x y', topic: 'orders', keys: ['ä&b'] });
  assert.equal(render(template, message, 3), 'http://svc/orders/tx/01J%2Fx%20y?k=%C3%A4%26b&n=3&t=');
  const tagged = testing.message({ id: "a!*'()", tag: 'gold~1', keys: [] });
  assert.equal(render(parseTemplate('http://svc/{id}/{tag}/{key}'), tagged, 0), 'http://svc/a%21%2A%27%28%29/gold~1/');
  // and through the plugin, to the service
  answers.set('/orders/tx/01J%2Fx%20y', [200, 'rollback']);
  assert.equal(await checker.check(`${base}/{topic}/tx/{transaction}?n={checks}`, message, 3), 'rollback');
  assert.equal(requests[0].url, '/orders/tx/01J%2Fx%20y?n=3');
});

test('doubled braces are literal', () => {
  const message = testing.message({ id: '7' });
  assert.equal(render(parseTemplate('http://svc/{{id}}/{id}'), message, 0), 'http://svc/{id}/7');
});

test('bad templates are refused', () => {
  for (const bad of ['svc/tx/{id}', 'http://svc/{id', 'http://svc/id}', 'http://svc/{when}']) {
    assert.throws(() => parseTemplate(bad), Error, bad);
  }
});

test('a bare template is a get', () => {
  const bare = parse('http://svc/tx/{transaction}');
  assert.deepEqual(parse(' {"url":"http://svc/tx/{transaction}"} '), bare);
  assert.equal(bare.method, 'GET');
  assert.equal(bare.notFound, 'unknown');
  assert.deepEqual(bare.headers, []);
});

test('the json form reads every field', () => {
  const config = parse('{"url":"http://svc/","method":"POST","headers":{"a":"b"},"not_found":"rollback"}');
  assert.equal(config.method, 'POST');
  assert.equal(config.notFound, 'rollback');
  assert.deepEqual(config.headers, [['a', 'b']]);
});

test('bad configs are refused', () => {
  for (const bad of [
    '',
    '{bad',
    '[]',
    '{}',
    '{"url":5}',
    '{"url":"http://svc/","method":"PUT"}',
    '{"url":"http://svc/","method":"get"}',
    '{"url":"http://svc/","verb":"GET"}',
    '{"url":"http://svc/","not_found":"commit"}',
    '{"url":"http://svc/","headers":{"a":1}}',
    '{"url":"http://svc/","headers":[["a","b"]]}',
    'http://svc/{nope}',
    'ftp://svc/{id}',
  ]) {
    assert.throws(() => parse(bad), Error, bad);
  }
});

test('a bad config is logged once and every transaction stays unknown', async () => {
  fresh();
  assert.equal(await checker.check('{bad', half(), 0), 'unknown');
  assert.equal(await checker.check('{bad', half(), 1), 'unknown');
  assert.equal(await checker.check(`${base}/{when}`, half(), 0), 'unknown');
  const errors = testing.logs().filter((l) => l.level === 'error');
  assert.equal(errors.length, 2);
  assert.match(errors[0].message, /invalid config "\{bad".*every transaction stays unknown/);
  assert.equal(requests.length, 0, 'a bad config makes no request');
});

test('answers map to states', () => {
  const bytes = (text) => new TextEncoder().encode(text);
  assert.equal(stateOf(200, bytes('commit'), 'unknown'), 'commit');
  assert.equal(stateOf(204, bytes('{"state":"commit"}'), 'unknown'), 'commit');
  assert.equal(stateOf(200, bytes('"commit"'), 'unknown'), 'unknown');
  assert.equal(stateOf(200, bytes('{"state":5}'), 'unknown'), 'unknown');
  assert.equal(stateOf(500, bytes('commit'), 'rollback'), 'unknown');
  assert.equal(stateOf(404, bytes('commit'), 'unknown'), 'unknown');
  assert.equal(stateOf(404, bytes(''), 'rollback'), 'rollback');
  assert.equal(stateOf(200, Uint8Array.of(0xff), 'unknown'), 'unknown');
});

test('text bodies travel as text, binary ones as base64', () => {
  const text = JSON.parse(
    body(testing.message({ id: 'tx-1', topic: 'orders', keys: ['k'], tag: 'g', messageGroup: 'm', body: 'hello' }), 4),
  );
  assert.deepEqual(text, {
    transaction: 'tx-1',
    topic: 'orders',
    checks: 4,
    message: {
      id: 'tx-1', topic: 'orders', keys: ['k'], tag: 'g', message_group: 'm', properties: {}, born_ms: 0, body: 'hello',
    },
  });
  const binary = JSON.parse(body(testing.message({ body: Uint8Array.of(0xff, 0x00, 0x10, 0x20) }), 0));
  assert.equal(binary.message.body_base64, '/wAQIA==');
  assert.equal(binary.message.body, undefined);
  assert.equal(binary.message.tag, undefined);
});

test('base64 pads every length', () => {
  const b = (text) => base64(new TextEncoder().encode(text));
  assert.deepEqual(['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map(b), [
    '', 'Zg==', 'Zm8=', 'Zm9v', 'Zm9vYg==', 'Zm9vYmE=', 'Zm9vYmFy',
  ]);
});
