// Package weir writes plugins for the Weir broker in Go.
//
// A Weir plugin is a WebAssembly component that the broker runs next to the data, in one
// of three roles, each a world of the `weir:plugin` WIT package (wit/plugin.wit):
//
//	role                 implement     register with         world
//	consumer             Consumer      ExportConsumer        consumer-plugin
//	dedup filter         DedupFilter   ExportDedupFilter     dedup-filter-plugin
//	transaction checker  TxChecker     ExportTxChecker       tx-checker-plugin
//
// A plugin is a `main` package with a value implementing one of the interfaces,
// registered from an init function; main itself stays empty:
//
//	package main
//
//	import "weir"
//
//	type ackNonEmpty struct{}
//
//	func (ackNonEmpty) Handle(config string, batch []weir.Message) []weir.Outcome {
//		outcomes := make([]weir.Outcome, len(batch))
//		for i, message := range batch {
//			if len(message.Body) == 0 {
//				outcomes[i] = weir.DeadLetter("empty")
//			} else {
//				outcomes[i] = weir.Ack()
//			}
//		}
//		return outcomes
//	}
//
//	func init() { weir.ExportConsumer(ackNonEmpty{}) }
//
//	func main() {}
//
// Every call also receives the binding's configuration string, so one module serves many
// bindings; ConfigCache keeps its parsed form across calls. The broker's services are
// plain functions: Log, NowMs, StateGet/StateSet/StateDelete, Publish and HTTPGet,
// HTTPPost, HTTPRequest.
//
// Built for the host (go test), the services are backed by an in-memory double that
// package weir/testing controls and inspects, so plugin logic is tested natively.
// Built for WebAssembly (build.sh, GOOS=wasip1), they call the broker. The generated
// bindings and the canonical ABI stay inside this module (internal/).
package weir

import "fmt"

// Consumer is a consumer plugin: it handles batches of messages of its group.
//
// The broker may run several instances of a binding at once (its concurrency), each with
// its own memory, so anything to remember across batches belongs in the binding's state
// (StateGet, StateSet).
type Consumer interface {
	// Handle answers one Outcome per message of batch, in order. config is the binding's
	// configuration string. A panic, a timeout or a slice of the wrong length fails the
	// whole batch: the broker retries its messages.
	Handle(config string, batch []Message) []Outcome
}

// DedupFilter is a dedup-filter plugin: it names the business identity of a message.
// The broker keeps the table of keys seen within the binding's window; the plugin only
// computes the key. It is called once per message, so it should be quick.
type DedupFilter interface {
	// DedupKey answers the dedup key of message under config; ok false means the message
	// is never a duplicate.
	DedupKey(config string, message Message) (key string, ok bool)
}

// TxChecker is a transaction-checker plugin: it decides undecided transactions.
type TxChecker interface {
	// Check answers the state of the transaction of half (its ID is the transaction id);
	// checks is how many check-backs came before this one.
	Check(config string, half Message, checks uint32) TxState
}

// TxState is a checker's answer.
type TxState uint8

const (
	// Commit delivers the message to its topic.
	Commit TxState = iota
	// Rollback discards the message.
	Rollback
	// Unknown is not known yet: the broker asks again later.
	Unknown
)

// String answers `commit`, `rollback` or `unknown`.
func (s TxState) String() string {
	switch s {
	case Commit:
		return "commit"
	case Rollback:
		return "rollback"
	default:
		return "unknown"
	}
}

// ConsumerFunc makes a function a Consumer.
type ConsumerFunc func(config string, batch []Message) []Outcome

// Handle calls f.
func (f ConsumerFunc) Handle(config string, batch []Message) []Outcome { return f(config, batch) }

// DedupFilterFunc makes a function a DedupFilter.
type DedupFilterFunc func(config string, message Message) (string, bool)

// DedupKey calls f.
func (f DedupFilterFunc) DedupKey(config string, message Message) (string, bool) {
	return f(config, message)
}

// TxCheckerFunc makes a function a TxChecker.
type TxCheckerFunc func(config string, half Message, checks uint32) TxState

// Check calls f.
func (f TxCheckerFunc) Check(config string, half Message, checks uint32) TxState {
	return f(config, half, checks)
}

// The plugin registered by this module; one of them, once.
var (
	exportedConsumer    Consumer
	exportedDedupFilter DedupFilter
	exportedTxChecker   TxChecker
)

// ExportConsumer makes c the consumer of this module's component (the consumer-plugin
// world). Call it once, from an init function of package main. It panics when a plugin
// is already registered: a component exports one world.
func ExportConsumer(c Consumer) {
	checkUnregistered(c)
	exportedConsumer = c
}

// ExportDedupFilter makes f the dedup filter of this module's component (the
// dedup-filter-plugin world); once, as for ExportConsumer.
func ExportDedupFilter(f DedupFilter) {
	checkUnregistered(f)
	exportedDedupFilter = f
}

// ExportTxChecker makes c the transaction checker of this module's component (the
// tx-checker-plugin world); once, as for ExportConsumer.
func ExportTxChecker(c TxChecker) {
	checkUnregistered(c)
	exportedTxChecker = c
}

func checkUnregistered(plugin any) {
	if plugin == nil {
		panic("weir: registering a nil plugin")
	}
	if exportedConsumer != nil || exportedDedupFilter != nil || exportedTxChecker != nil {
		panic(fmt.Sprintf("weir: a plugin is already registered; a module exports one (registering %T)", plugin))
	}
}
