import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Outcome, state } from 'weir';
import * as testing from 'weir/testing';

import handle from '../index.js';

test('acks everything and counts when asked', () => {
  testing.reset();
  const batch = [testing.message(), testing.message(), testing.message()];
  assert.deepEqual(handle('', batch), [Outcome.ack(), Outcome.ack(), Outcome.ack()]);
  assert.equal(state.get('acked'), undefined);
  handle('acked', batch);
  handle('acked', batch);
  assert.equal(state.getText('acked'), '6');
});

test('a failed count still acks', () => {
  testing.reset();
  testing.failStateSet('quota');
  assert.deepEqual(handle('acked', [testing.message()]), [Outcome.ack()]);
  assert.equal(testing.logs()[0].level, 'warn');
});
