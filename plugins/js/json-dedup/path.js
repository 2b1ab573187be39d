// Field paths into a JSON document, and how the value found becomes a key.
//
// A path is either dot-separated names, `order.id`, where a segment made of digits indexes
// an array (`items.0.sku`), or a JSON pointer (RFC 6901), `/order/id`, for names that
// contain dots. A string value is the key as it is; a number or boolean is its JSON text;
// an object or array is its compact JSON text (object keys sorted), so equal values give
// equal keys; `null` gives no key.

/** Parses a dotted path or a JSON pointer into its segments; throws when it is neither. */
export function parsePath(path) {
  const pointer = path.startsWith('/');
  const segments = pointer
    ? path.slice(1).split('/').map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    : path.split('.');
  if (path === '' || (!pointer && segments.some((segment) => segment === ''))) {
    throw new Error(`${JSON.stringify(path)} is not a field path such as \`order.id\``);
  }
  return segments;
}

const INDEX = /^\+?[0-9]+$/;

/** The value at `segments` in `document`, or undefined. */
export function lookup(segments, document) {
  let value = document;
  for (const segment of segments) {
    if (Array.isArray(value)) {
      if (!INDEX.test(segment)) return undefined;
      value = value[Number(segment)];
    } else if (value !== null && typeof value === 'object') {
      value = Object.hasOwn(value, segment) ? value[segment] : undefined;
    } else {
      return undefined;
    }
    if (value === undefined) return undefined;
  }
  return value;
}

/** Compact JSON with object keys sorted, at every depth. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const names = Object.keys(value).sort();
    return `{${names.map((name) => `${JSON.stringify(name)}:${canonical(value[name])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The key text of a value (undefined for null and for no value). */
export function keyText(value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  return canonical(value);
}
