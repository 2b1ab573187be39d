/// <reference path="./weir-plugin-types.d.ts" />
declare module 'weir:plugin/tx-checker@0.1.0' {
  /**
   * The state of the transaction of a half message (`checks`: check-backs so far).
   */
  export function check(config: string, half: Message, checks: number): TxState;
  export type Message = import('weir:plugin/types@0.1.0').Message;
  /**
   * A checker's answer.
   * # Variants
   * 
   * ## `"commit"`
   * 
   * ## `"rollback"`
   * 
   * ## `"unknown"`
   */
  export type TxState = 'commit' | 'rollback' | 'unknown';
}
