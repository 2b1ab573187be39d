/// <reference path="./weir-plugin-types.d.ts" />
declare module 'weir:plugin/host@0.1.0' {
  /**
   * Writes a structured line to the broker's log, tagged with the binding.
   */
  export function log(level: Level, message: string): void;
  /**
   * Milliseconds since the Unix epoch.
   */
  export function nowMs(): bigint;
  /**
   * Reads a value of this binding's key-value state (`none` when absent or expired).
   * 
   * The state is shared by the binding's instances and kept in memory; the broker
   * writes a snapshot of it every 5 seconds and at shutdown, and reads it back when it
   * starts. It survives restarts and crashes except the changes of the last seconds
   * before a crash (5 s; on a power loss, also what the broker had not yet flushed): a
   * plugin must tolerate losing its most recent writes. Deleting the binding deletes
   * its state.
   */
  export function stateGet(key: string): Uint8Array | undefined;
  /**
   * Writes a value of this binding's state, kept for `ttl-ms` (0: until deleted).
   * Durable within 5 seconds, not at once (see `state-get`). Fails when the binding's
   * state quota would be exceeded (each entry counts its key, its value and 16 bytes).
   */
  export function stateSet(key: string, value: Uint8Array, ttlMs: bigint): void;
  /**
   * Deletes a value of this binding's state. Durable within 5 seconds, like `state-set`.
   */
  export function stateDelete(key: string): void;
  /**
   * Sends a message (consumer bindings with publishing granted); answers its id.
   */
  export function publish(message: Outgoing): string;
  /**
   * A GET or POST to a URL on the binding's allowlist; answers status and body.
   */
  export function httpRequest(method: string, url: string, headers: Array<[string, string]>, body: Uint8Array): [number, Uint8Array];
  export type Outgoing = import('weir:plugin/types@0.1.0').Outgoing;
  /**
   * Log levels.
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}
