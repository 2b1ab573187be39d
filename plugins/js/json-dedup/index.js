// `json-dedup`, a Weir dedup filter: the dedup key of a message is the value of one or
// more fields of its JSON body, named by the binding's config.
//
// A body that is not JSON, or lacks a field, has no key: the broker never treats it as a
// duplicate. A config that does not parse is logged once per instance and gives no keys
// either, so a mistake in a binding lets messages through rather than dropping them.

import { DedupFilter } from 'weir';
import { fieldsOf } from './config.js';
import { keyText, lookup } from './path.js';

/**
 * The key of `message` under `fields`: the field's value, or the values of several fields
 * joined by U+001F (the unit separator, which JSON strings escape, so that ["a","b|c"] and
 * ["a|b","c"] never collide).
 */
export function keyOf(fields, message) {
  const document = message.json();
  if (document === undefined) return undefined;
  const parts = [];
  for (const field of fields) {
    const text = keyText(lookup(field, document));
    if (text === undefined) return undefined;
    parts.push(text);
  }
  return parts.join('\u001f');
}

export default class JsonDedup extends DedupFilter {
  dedupKey(config, message) {
    const fields = fieldsOf(config);
    return fields === undefined ? undefined : keyOf(fields, message);
  }
}
