// The JSON body of a POST check: the same shape as the broker's own check-back callback
// (docs/scheduling.md), so a service written for producer-group callbacks answers this
// checker unchanged:
//
//   {"transaction":"...","topic":"orders","checks":1,
//    "message":{"id":"...","topic":"orders","keys":[],"properties":{},"born_ms":0,"body":"..."}}
//
// A body that is not UTF-8 travels as `body_base64` instead of `body`. The broker's
// callback also carries `producer_group` and `store_ms`, which a plugin does not see.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 with padding (RFC 4648 §4) of `bytes` (a Uint8Array). */
export function base64(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const left = bytes.length - i;
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
    out += left > 1 ? ALPHABET[(n >> 6) & 63] : '=';
    out += left > 2 ? ALPHABET[n & 63] : '=';
  }
  return out;
}

/** The body (a string) of a POST about `half` (a Message) at its `checks`-th check. */
export function body(half, checks) {
  // Properties as an object in name order; a repeated name keeps its last value.
  const properties = {};
  const sorted = [...half.properties].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of sorted) properties[name] = value;
  const text = half.text();
  const message = { id: half.id, topic: half.topic, keys: half.keys };
  if (half.tag !== undefined) message.tag = half.tag;
  if (half.messageGroup !== undefined) message.message_group = half.messageGroup;
  message.properties = properties;
  message.born_ms = half.bornMs;
  if (text !== undefined) message.body = text;
  else message.body_base64 = base64(half.body);
  return JSON.stringify({ transaction: half.id, topic: half.topic, checks, message });
}
