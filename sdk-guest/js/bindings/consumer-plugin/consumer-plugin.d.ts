/// <reference path="./interfaces/weir-plugin-consumer.d.ts" />
/// <reference path="./interfaces/weir-plugin-host.d.ts" />
/// <reference path="./interfaces/weir-plugin-types.d.ts" />
declare module 'weir:plugin/consumer-plugin@0.1.0' {
  export type * as WeirPluginHost010 from 'weir:plugin/host@0.1.0'; // import weir:plugin/host@0.1.0
  export type * as WeirPluginTypes010 from 'weir:plugin/types@0.1.0'; // import weir:plugin/types@0.1.0
  export * as consumer from 'weir:plugin/consumer@0.1.0'; // export weir:plugin/consumer@0.1.0
}
