//go:build wasip1 && weir_tx_checker_plugin

package weir

// The tx-checker-plugin world's exports, linked when build.sh builds that world (the
// build tag weir_tx_checker_plugin), calling the TxChecker given to ExportTxChecker.

import (
	txchecker "weir/internal/bindings/txchecker"
	_ "weir/internal/bindings/txcheckerworld"
	types "weir/internal/bindings/types"
	export "weir/internal/exports/txchecker"
)

func init() {
	export.Check = func(config string, half types.Message, checks uint32) txchecker.TxState {
		collectIfDue()
		if exportedTxChecker == nil {
			panic(notRegistered("tx-checker-plugin", "ExportTxChecker"))
		}
		switch exportedTxChecker.Check(config, fromWit(half), checks) {
		case Commit:
			return txchecker.TxState_Commit
		case Rollback:
			return txchecker.TxState_Rollback
		default:
			return txchecker.TxState_Unknown
		}
	}
}
