// The binding's config: whom to ask, and how.
//
// Either a bare URL template (`http://127.0.0.1:9000/tx/{transaction}`, asked with GET),
// or a JSON object:
//
//   {"url": "http://orders.internal:9000/tx/{transaction}", "method": "GET",
//    "headers": {"authorization": "Bearer s3cret"}, "not_found": "unknown"}
//
// Only `url` is required; unknown fields are refused. See template.js for the
// placeholders. Parsed once per instance and config string.

import { ConfigCache, log } from 'weir';
import { parseTemplate } from './template.js';

const FIELDS = new Set(['url', 'method', 'headers', 'not_found']);

/**
 * Parses a config string into {url (template parts), method ('GET' or 'POST'), headers
 * ([[name, value]]), notFound ('unknown' or 'rollback')}; throws an Error saying what is
 * wrong.
 */
export function parse(text) {
  const config = text.trim();
  let json;
  if (config.startsWith('{')) {
    json = JSON.parse(config);
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new Error('the config must be a URL template or a JSON object');
    }
    for (const name of Object.keys(json)) {
      if (!FIELDS.has(name)) throw new Error(`unknown field \`${name}\``);
    }
    if (json.url === undefined) throw new Error('missing field `url`');
    if (typeof json.url !== 'string') throw new Error('`url` must be a string');
  } else {
    json = { url: config };
  }
  const method = json.method === undefined ? 'GET' : json.method;
  if (method !== 'GET' && method !== 'POST') {
    throw new Error(`\`method\` must be "GET" or "POST", not ${JSON.stringify(method)}`);
  }
  const notFound = json.not_found === undefined ? 'unknown' : json.not_found;
  if (notFound !== 'unknown' && notFound !== 'rollback') {
    throw new Error(`\`not_found\` must be "unknown" or "rollback", not ${JSON.stringify(notFound)}`);
  }
  const headers = json.headers === undefined ? {} : json.headers;
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new Error('`headers` must be an object of strings');
  }
  for (const value of Object.values(headers)) {
    if (typeof value !== 'string') throw new Error('`headers` values must be strings');
  }
  return {
    url: parseTemplate(json.url),
    method,
    headers: Object.entries(headers),
    notFound,
  };
}

const cache = new ConfigCache((config) => {
  try {
    return parse(config);
  } catch (error) {
    log.error(
      `http-tx-checker: invalid config ${JSON.stringify(config)}: ${error.message}; every transaction stays unknown`,
    );
    return undefined;
  }
});

/** The parsed form of `config`, or undefined when it is invalid (logged once per instance). */
export function configOf(config) {
  return cache.get(config);
}
