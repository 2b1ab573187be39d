/// <reference path="./interfaces/weir-plugin-dedup-filter.d.ts" />
/// <reference path="./interfaces/weir-plugin-host.d.ts" />
/// <reference path="./interfaces/weir-plugin-types.d.ts" />
declare module 'weir:plugin/dedup-filter-plugin@0.1.0' {
  export type * as WeirPluginHost010 from 'weir:plugin/host@0.1.0'; // import weir:plugin/host@0.1.0
  export type * as WeirPluginTypes010 from 'weir:plugin/types@0.1.0'; // import weir:plugin/types@0.1.0
  export * as dedupFilter from 'weir:plugin/dedup-filter@0.1.0'; // export weir:plugin/dedup-filter@0.1.0
}
