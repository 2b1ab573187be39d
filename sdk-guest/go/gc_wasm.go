//go:build wasip1

package weir

// Garbage collection in the component. Go's collector may start, or finish, a cycle
// from any allocation, including those the canonical ABI makes in `cabi_realloc` while
// the broker copies a call's arguments in; finishing a cycle reads the wall clock, and
// the component model forbids calling imports from `cabi_realloc`: the WASI adapter of
// wasmtime 48 traps there (`wasi:clocks/wall-clock.now` under `runtime.gcMarkTermination`
// under `cabi_realloc`, seen with batches of large messages). So the automatic collector
// is off, and the SDK collects itself at the start of each export call, outside
// `cabi_realloc`, when the heap has grown by gcEveryBytes since the last collection or
// after gcEveryCalls calls. runtime.GC finishes its cycle before it returns, so no cycle
// is ever in progress during an allocation of the bindings.

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

const (
	gcEveryCalls = 64
	gcEveryBytes = 8 << 20
)

var (
	callsSinceGC   int
	allocatedAtGC  uint64
	allocatedBytes = []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
)

func init() {
	debug.SetGCPercent(-1)
}

// collectIfDue runs a collection when one is due; called at the start of every export.
func collectIfDue() {
	callsSinceGC++
	metrics.Read(allocatedBytes)
	allocated := allocatedBytes[0].Value.Uint64()
	if callsSinceGC < gcEveryCalls && allocated-allocatedAtGC < gcEveryBytes {
		return
	}
	runtime.GC()
	callsSinceGC = 0
	allocatedAtGC = allocated
}

// notRegistered is the panic of an export called in a module that registered no plugin
// for its world.
func notRegistered(world, register string) string {
	return fmt.Sprintf("weir: built for the %s world, but no plugin was registered with weir.%s (call it from an init function)", world, register)
}
