// The binding's config: where to forward, and what to change on the way.
//
// Either a bare topic name (`orders-eu`), or a JSON object:
//
//   {"to": "orders-eu", "add_properties": {"region": "eu"}, "remove_properties": ["internal"],
//    "tag": "eu", "uppercase": false, "origin_property": "forwarded-from", "retry_ms": 0,
//    "dead_letter_after": 5}
//
// Only `to` is required. Unknown fields are refused.

import { ConfigCache, log } from 'weir';

const FIELDS = new Set([
  'to',
  'add_properties',
  'remove_properties',
  'tag',
  'uppercase',
  'origin_property',
  'retry_ms',
  'dead_letter_after',
]);

// The largest delivery attempt (a u32).
const MAX_ATTEMPT = 0xffffffff;

function optionalString(object, name) {
  const value = object[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Error(`\`${name}\` must be a string`);
  return value;
}

/** Parses a config string; throws an Error saying what is wrong. */
export function parse(text) {
  const config = text.trim();
  let parsed;
  if (config.startsWith('{')) {
    const json = JSON.parse(config);
    for (const name of Object.keys(json)) {
      if (!FIELDS.has(name)) throw new Error(`unknown field \`${name}\``);
    }
    if (typeof json.to !== 'string') throw new Error('`to` must be a string');
    const add = json.add_properties ?? {};
    if (typeof add !== 'object' || Array.isArray(add)) {
      throw new Error('`add_properties` must be an object of strings');
    }
    // Applied in name order, as a sorted map would.
    const addProperties = Object.keys(add)
      .sort()
      .map((name) => {
        if (typeof add[name] !== 'string') throw new Error('`add_properties` values must be strings');
        return [name, add[name]];
      });
    const remove = json.remove_properties ?? [];
    if (!Array.isArray(remove) || remove.some((name) => typeof name !== 'string')) {
      throw new Error('`remove_properties` must be a list of strings');
    }
    const uppercase = json.uppercase ?? false;
    if (typeof uppercase !== 'boolean') throw new Error('`uppercase` must be a boolean');
    const retryMs = json.retry_ms ?? 0;
    if (!Number.isSafeInteger(retryMs) || retryMs < 0) {
      throw new Error('`retry_ms` must be a non-negative integer');
    }
    const deadLetterAfter = json.dead_letter_after ?? undefined;
    if (
      deadLetterAfter !== undefined &&
      (!Number.isInteger(deadLetterAfter) || deadLetterAfter < 1 || deadLetterAfter > MAX_ATTEMPT)
    ) {
      throw new Error('`dead_letter_after` must be a delivery attempt, 1 or more');
    }
    parsed = {
      to: json.to,
      addProperties,
      removeProperties: remove,
      tag: optionalString(json, 'tag'),
      uppercase,
      originProperty: optionalString(json, 'origin_property'),
      retryMs,
      deadLetterAfter,
    };
  } else {
    parsed = {
      to: config,
      addProperties: [],
      removeProperties: [],
      tag: undefined,
      uppercase: false,
      originProperty: undefined,
      retryMs: 0,
      deadLetterAfter: undefined,
    };
  }
  if (parsed.to.trim() === '') throw new Error('`to` must name a topic');
  return parsed;
}

const cache = new ConfigCache((config) => {
  try {
    return { ok: parse(config) };
  } catch (error) {
    log.error(`forwarder: invalid config ${JSON.stringify(config)}: ${error.message}; messages are retried`);
    return { error: error.message };
  }
});

/** The parsed form of `config` ({ok} or {error}), parsed once per instance and config. */
export function parsed(config) {
  return cache.get(config);
}
