/// <reference path="./weir-plugin-types.d.ts" />
declare module 'weir:plugin/dedup-filter@0.1.0' {
  /**
   * The dedup key of a message (`none`: never a duplicate). The broker keeps the
   * table of keys seen within the binding's window.
   */
  export function dedupKey(config: string, message: Message): string | undefined;
  export type Message = import('weir:plugin/types@0.1.0').Message;
}
