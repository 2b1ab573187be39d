/// <reference path="./weir-plugin-types.d.ts" />
declare module 'weir:plugin/consumer@0.1.0' {
  /**
   * Handles a batch; answers one outcome per message, in order. A trap, a timeout or
   * a list of the wrong length fails the whole batch (its messages are retried).
   */
  export function handle(config: string, batch: Array<Message>): Array<Outcome>;
  export type Message = import('weir:plugin/types@0.1.0').Message;
  /**
   * What happens to one message.
   */
  export type Outcome = OutcomeAck | OutcomeRetry | OutcomeDeadLetter;
  /**
   * Done: ack it.
   */
  export interface OutcomeAck {
    tag: 'ack',
  }
  /**
   * Failed: deliver it again after this many milliseconds (0: the group's backoff).
   */
  export interface OutcomeRetry {
    tag: 'retry',
    val: bigint,
  }
  /**
   * Give up: move it to the group's dead-letter queue with this reason.
   */
  export interface OutcomeDeadLetter {
    tag: 'dead-letter',
    val: string,
  }
}
