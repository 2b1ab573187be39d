// Package export_weir_plugin_consumer is what the generated exports of the
// consumer-plugin world call: package weir sets Handle to its adapter around the
// registered weir.Consumer.
package export_weir_plugin_consumer

import (
	weir_plugin_consumer "weir/internal/bindings/consumer"
	weir_plugin_types "weir/internal/bindings/types"
)

// Handle handles a batch (set by package weir).
var Handle func(config string, batch []weir_plugin_types.Message) []weir_plugin_consumer.Outcome
