//go:build wasip1 && weir_dedup_filter_plugin

package weir

// The dedup-filter-plugin world's exports, linked when build.sh builds that world (the
// build tag weir_dedup_filter_plugin), calling the DedupFilter given to
// ExportDedupFilter.

import (
	_ "weir/internal/bindings/dedupfilterworld"
	types "weir/internal/bindings/types"
	export "weir/internal/exports/dedupfilter"
	witTypes "weir/internal/wit/types"
)

func init() {
	export.DedupKey = func(config string, message types.Message) witTypes.Option[string] {
		collectIfDue()
		if exportedDedupFilter == nil {
			panic(notRegistered("dedup-filter-plugin", "ExportDedupFilter"))
		}
		key, ok := exportedDedupFilter.DedupKey(config, fromWit(message))
		if !ok {
			return witTypes.None[string]()
		}
		return witTypes.Some(key)
	}
}
