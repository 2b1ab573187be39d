// Command ack-all is a test consumer that acks every message: the baseline for
// benchmarks (nothing but the call boundary) and a well-behaved module for hot-swap
// tests; the Go twin of tests/plugins/ack-all.
//
// Config: empty, or the name of a state key. With a key, each batch adds its size to a
// counter kept there (decimal ASCII), so a test can read how many messages this binding
// acked; a failed state write is logged and the batch still acked. The count is a
// read-modify-write: exact with one instance (concurrency 1) only.
package main

import (
	"strconv"
	"strings"

	"weir"
)

type ackAll struct{}

func (ackAll) Handle(config string, batch []weir.Message) []weir.Outcome {
	if counter := strings.TrimSpace(config); counter != "" {
		count(counter, len(batch))
	}
	return weir.Repeat(weir.Ack(), len(batch))
}

// count adds n to the counter under key.
func count(key string, n int) {
	var soFar uint64
	if value, ok := weir.StateGet(key); ok {
		soFar, _ = strconv.ParseUint(string(value), 10, 64)
	}
	total := soFar + uint64(n)
	if total < soFar {
		total = ^uint64(0)
	}
	if err := weir.StateSet(key, []byte(strconv.FormatUint(total, 10)), 0); err != nil {
		weir.Logf(weir.LevelWarn, "ack-all: counting in %q failed: %v", key, err)
	}
}

func init() { weir.ExportConsumer(ackAll{}) }

func main() {}
