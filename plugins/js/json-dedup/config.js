// The binding's config: which fields make the dedup key.
//
// Accepted forms: a bare field path, `order.id` (or a JSON pointer, `/order/id`); a JSON
// object with one path, `{"field": "order.id"}`, or several, `{"fields": ["tenant",
// "order.id"]}`. Parsed once per instance and config string.

import { ConfigCache, log } from 'weir';
import { parsePath } from './path.js';

/** The field paths of a config string, at least one; throws when it is invalid. */
export function parse(text) {
  const config = text.trim();
  let paths;
  if (config.startsWith('{')) {
    const json = JSON.parse(config);
    for (const name of Object.keys(json)) {
      if (name !== 'field' && name !== 'fields') throw new Error(`unknown field \`${name}\``);
    }
    const field = json.field ?? undefined;
    const fields = json.fields ?? undefined;
    if (field !== undefined && typeof field !== 'string') throw new Error('`field` must be a string');
    if (fields !== undefined && (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string'))) {
      throw new Error('`fields` must be a list of strings');
    }
    if (field !== undefined && fields === undefined) paths = [field];
    else if (field === undefined && fields !== undefined && fields.length > 0) paths = fields;
    else throw new Error('give exactly one of `field` and a non-empty `fields`');
  } else {
    paths = [config];
  }
  return paths.map(parsePath);
}

const cache = new ConfigCache((config) => {
  try {
    return parse(config);
  } catch (error) {
    log.error(`json-dedup: invalid config ${JSON.stringify(config)}: ${error.message}; no message gets a key`);
    return undefined;
  }
});

/** The field paths of `config`, or undefined when it is invalid (logged once). */
export function fieldsOf(config) {
  return cache.get(config);
}
