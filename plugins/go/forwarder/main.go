// Command forwarder is a Weir consumer: it publishes each message of its group,
// transformed, to another topic, and acks it once the publish succeeded. It is the Go
// twin of plugins/forwarder, with the same config and behaviour.
//
//   - config.go: the binding's config (the target topic and the transformations);
//   - transform.go: what happens to a message on its way.
//
// A failed publish is retried (after `retry_ms`, or the group's backoff), or, from the
// delivery attempt `dead_letter_after` on, dead-lettered with the failure as its reason.
// The rest of the batch after a failure is retried without being published: that keeps
// the order of a FIFO group's messages and spares a target that is failing. A config
// that does not parse retries every message with the group's backoff (and is logged once
// per instance): fixing the binding lets them through, and after the group's maximum
// attempts they are dead-lettered, not lost.
package main

import (
	"fmt"

	"weir"
)

// forwarder is the forwarding consumer.
type forwarder struct{}

func (forwarder) Handle(text string, batch []weir.Message) []weir.Outcome {
	config, err := parsed(text)
	if err != nil {
		return weir.Repeat(weir.RetryWithBackoff, len(batch))
	}
	outcomes := make([]weir.Outcome, 0, len(batch))
	failed := false
	for _, message := range batch {
		if failed {
			outcomes = append(outcomes, weir.Retry(config.retryMs))
			continue
		}
		if _, err := weir.Publish(forward(config, message)); err != nil {
			failed = true
			if config.givesUpOn(message.Attempt) {
				reason := fmt.Sprintf("forwarder: publishing %s to %s failed on attempt %d: %v", message.ID, config.to, message.Attempt, err)
				weir.Logf(weir.LevelWarn, "%s; dead-lettering", reason)
				outcomes = append(outcomes, weir.DeadLetter(reason))
				continue
			}
			weir.Logf(weir.LevelWarn, "forwarder: publishing %s to %s failed: %v; retrying", message.ID, config.to, err)
			outcomes = append(outcomes, weir.Retry(config.retryMs))
			continue
		}
		outcomes = append(outcomes, weir.Ack())
	}
	return outcomes
}

func init() { weir.ExportConsumer(forwarder{}) }

func main() {}
