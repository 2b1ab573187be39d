// Package export_weir_plugin_dedup_filter is what the generated exports of the
// dedup-filter-plugin world call: package weir sets DedupKey to its adapter around the
// registered weir.DedupFilter.
package export_weir_plugin_dedup_filter

import (
	weir_plugin_types "weir/internal/bindings/types"
	witTypes "weir/internal/wit/types"
)

// DedupKey answers the dedup key of a message (set by package weir).
var DedupKey func(config string, message weir_plugin_types.Message) witTypes.Option[string]
