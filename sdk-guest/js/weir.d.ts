// The SDK's API, for editors and TypeScript checks (the SDK itself is plain JavaScript).

export type Bytes = Uint8Array | string | ArrayBufferView | ArrayBuffer | number[];
export type Headers = Record<string, string> | Array<[string, string]>;

export function toBytes(value: Bytes | undefined | null): Uint8Array;
export function utf8Encode(text: string): Uint8Array;
export function utf8Decode(bytes: Uint8Array): string | undefined;

/** A failure the broker reported for a service call. */
export class HostError extends Error {}

export interface MessageFields {
  id?: string; topic?: string; queue?: number; offset?: number | bigint; keys?: string[];
  tag?: string; messageGroup?: string; properties?: Array<[string, string]>; body?: Bytes;
  bornMs?: number | bigint; attempt?: number;
}

/** A message as the broker hands it to a plugin. */
export class Message {
  constructor(fields?: MessageFields);
  id: string; topic: string; queue: number; offset: number; keys: string[];
  tag: string | undefined; messageGroup: string | undefined;
  properties: Array<[string, string]>; body: Uint8Array; bornMs: number; attempt: number;
  text(): string | undefined;
  json(): unknown;
  property(name: string): string | undefined;
  toOutgoing(topic: string): Outgoing;
}

/** A message a consumer publishes. */
export class Outgoing {
  constructor(topic: string, body?: Bytes, fields?: { keys?: string[]; tag?: string; messageGroup?: string; properties?: Array<[string, string]> });
  topic: string; body: Uint8Array; keys: string[]; tag: string | undefined;
  messageGroup: string | undefined; properties: Array<[string, string]>;
  key(key: string): this;
  withTag(tag: string): this;
  withGroup(group: string): this;
  property(name: string, value: string): this;
  removeProperty(name: string): this;
  text(): string | undefined;
}

export type Outcome =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly ms: number }
  | { readonly kind: 'dead-letter'; readonly reason: string };
export const Outcome: {
  ack(): Outcome;
  retry(ms?: number): Outcome;
  deadLetter(reason: string): Outcome;
  readonly RETRY_WITH_BACKOFF: Outcome;
};

export type TxState = 'commit' | 'rollback' | 'unknown';
export const TxState: { readonly COMMIT: 'commit'; readonly ROLLBACK: 'rollback'; readonly UNKNOWN: 'unknown' };

export class Consumer { handle(config: string, batch: Message[]): Outcome[]; }
export class DedupFilter { dedupKey(config: string, message: Message): string | undefined; }
/** `check` may be async (awaiting `fetch`, with the StarlingMonkey backend). */
export class TxChecker { check(config: string, half: Message, checks: number): TxState | Promise<TxState>; }

type LogFn = (...parts: unknown[]) => void;
export const log: { trace: LogFn; debug: LogFn; info: LogFn; warn: LogFn; error: LogFn };
export function nowMs(): number;
export const state: {
  get(key: string): Uint8Array | undefined;
  getText(key: string): string | undefined;
  set(key: string, value: Bytes, ttlMs?: number): void;
  delete(key: string): void;
};
export function publish(message: Outgoing): string;

export class Response {
  constructor(status: number, body?: Bytes);
  status: number; body: Uint8Array; readonly ok: boolean;
  text(): string | undefined;
  json(): unknown;
}
export const http: {
  get(url: string, headers?: Headers): Response;
  post(url: string, headers: Headers | undefined, body: Bytes): Response;
  request(method: string, url: string, headers?: Headers, body?: Bytes): Response;
};

export class ConfigCache<T> {
  constructor(parse: (config: string) => T);
  get(config: string): T;
}
