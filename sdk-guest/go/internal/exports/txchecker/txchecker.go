// Package export_weir_plugin_tx_checker is what the generated exports of the
// tx-checker-plugin world call: package weir sets Check to its adapter around the
// registered weir.TxChecker.
package export_weir_plugin_tx_checker

import (
	weir_plugin_tx_checker "weir/internal/bindings/txchecker"
	weir_plugin_types "weir/internal/bindings/types"
)

// Check answers the state of a transaction (set by package weir).
var Check func(config string, half weir_plugin_types.Message, checks uint32) weir_plugin_tx_checker.TxState
