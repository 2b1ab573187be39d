declare module 'weir:plugin/types@0.1.0' {
  /**
   * A message as the broker hands it to a plugin.
   */
  export interface Message {
    /**
     * The message id (the producer's, when it chose one).
     */
    id: string,
    /**
     * The topic it was sent to.
     */
    topic: string,
    /**
     * Its queue in that topic.
     */
    queue: number,
    /**
     * Its offset in that queue.
     */
    offset: bigint,
    /**
     * Business keys.
     */
    keys: Array<string>,
    /**
     * The tag, if any.
     */
    tag?: string,
    /**
     * The message group (sharding key), if any.
     */
    messageGroup?: string,
    /**
     * User properties, in order.
     */
    properties: Array<[string, string]>,
    /**
     * The payload.
     */
    body: Uint8Array,
    /**
     * When the producer created it, ms since the Unix epoch.
     */
    bornMs: bigint,
    /**
     * Which delivery this is to the consumer, from 1 (0 outside consumers).
     */
    attempt: number,
  }
  /**
   * A message a consumer publishes.
   */
  export interface Outgoing {
    /**
     * The topic to send to.
     */
    topic: string,
    /**
     * Business keys.
     */
    keys: Array<string>,
    /**
     * The tag, if any.
     */
    tag?: string,
    /**
     * The message group, if any.
     */
    messageGroup?: string,
    /**
     * User properties.
     */
    properties: Array<[string, string]>,
    /**
     * The payload.
     */
    body: Uint8Array,
  }
}
