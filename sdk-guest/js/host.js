// The broker's services as the SDK sees them, whichever backs them: the WIT imports in a
// component (installed by world.js) or the in-memory double (installed by testing.js).
// Not part of the API.
//
// A host is an object with
//   log(level, message)
//   nowMs() -> number
//   stateGet(key) -> Uint8Array | undefined
//   stateSet(key, bytes, ttlMs: number)            throws the error string
//   stateDelete(key)
//   publish({topic, keys, tag, messageGroup, properties, body}) -> id    throws
//   httpRequest(method, url, [[name, value]], bytes) -> [status, Uint8Array]  throws

let current = null;

/** Makes `host` back the services. */
export function install(host) {
  current = host;
}

/** The installed host. */
export function host() {
  if (current === null) {
    throw new Error(
      'weir: no host: the services run inside the broker, or in tests after `import "weir/testing"`',
    );
  }
  return current;
}
