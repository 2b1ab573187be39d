// The in-memory double of `weir/testing`.
import type { Bytes, Message, MessageFields, Outgoing, Response } from './weir.js';

export interface HttpCall { method: string; url: string; headers: Array<[string, string]>; body: Uint8Array; }
export function reset(): void;
export function setNowMs(ms: number | undefined): void;
export function logs(): Array<{ level: 'trace' | 'debug' | 'info' | 'warn' | 'error'; message: string }>;
export function published(): Outgoing[];
export function failPublish(reason: string | undefined): void;
export function failStateSet(reason: string | undefined): void;
export function stateText(key: string): string | undefined;
export function onHttp(handler: (call: HttpCall) => Response): void;
export function httpCalls(): HttpCall[];
export function response(status: number, body?: Bytes): Response;
export function message(fields?: MessageFields): Message;
