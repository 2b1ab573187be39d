// URL templates: `http://127.0.0.1:9000/tx/{transaction}`.
//
// Placeholders, each replaced by a percent-encoded value of the half message:
//
//   {transaction} or {id}   the transaction id (the half message's id)
//   {topic}                 the topic the message is for
//   {key}                   its first business key (empty when it has none)
//   {tag}                   its tag (empty when it has none)
//   {checks}                how many check-backs came before this one
//
// `{{` and `}}` stand for literal braces. The template must be an `http://` or `https://`
// URL; whether the broker lets the request through is the binding's allowlist's decision.

import { utf8Encode } from 'weir';

const PLACEHOLDERS = new Map([
  ['transaction', 'transaction'],
  ['id', 'transaction'],
  ['topic', 'topic'],
  ['key', 'key'],
  ['tag', 'tag'],
  ['checks', 'checks'],
]);

/**
 * Parses a template into its parts: strings (literal text) and placeholder names
 * (`{name: 'transaction'}`...); throws an Error saying what is wrong.
 */
export function parseTemplate(template) {
  if (!(template.startsWith('http://') || template.startsWith('https://'))) {
    throw new Error(`${JSON.stringify(template)} is not an http:// or https:// URL`);
  }
  const parts = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '{' && template[i + 1] === '{') {
      literal += '{';
      i++;
    } else if (c === '}' && template[i + 1] === '}') {
      literal += '}';
      i++;
    } else if (c === '{') {
      const end = template.indexOf('}', i + 1);
      if (end < 0) throw new Error(`unclosed \`{\` in ${JSON.stringify(template)}`);
      const name = template.slice(i + 1, end);
      const part = PLACEHOLDERS.get(name);
      if (part === undefined) throw new Error(`unknown placeholder \`{${name}}\``);
      if (literal !== '') parts.push(literal);
      literal = '';
      parts.push({ name: part });
      i = end;
    } else if (c === '}') {
      throw new Error(`unmatched \`}\` in ${JSON.stringify(template)}`);
    } else {
      literal += c;
    }
  }
  if (literal !== '') parts.push(literal);
  return parts;
}

/** `value` percent-encoded: every UTF-8 byte but RFC 3986's unreserved characters. */
export function percentEncode(value) {
  let out = '';
  for (const byte of utf8Encode(value)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c)) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The URL of the parsed template `parts` for `half` at its `checks`-th check. */
export function render(parts, half, checks) {
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      switch (part.name) {
        case 'transaction':
          return percentEncode(half.id);
        case 'topic':
          return percentEncode(half.topic);
        case 'key':
          return percentEncode(half.keys[0] ?? '');
        case 'tag':
          return percentEncode(half.tag ?? '');
        default:
          return String(checks);
      }
    })
    .join('');
}
