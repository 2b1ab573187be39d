//go:build wasip1 && weir_consumer_plugin

package weir

// The consumer-plugin world's exports, linked when build.sh builds that world (the build
// tag weir_consumer_plugin), calling the Consumer given to ExportConsumer.

import (
	consumer "weir/internal/bindings/consumer"
	_ "weir/internal/bindings/consumerworld"
	types "weir/internal/bindings/types"
	export "weir/internal/exports/consumer"
)

func init() {
	export.Handle = func(config string, batch []types.Message) []consumer.Outcome {
		collectIfDue()
		if exportedConsumer == nil {
			panic(notRegistered("consumer-plugin", "ExportConsumer"))
		}
		messages := make([]Message, len(batch))
		for i := range batch {
			messages[i] = fromWit(batch[i])
		}
		outcomes := exportedConsumer.Handle(config, messages)
		if len(outcomes) != len(batch) {
			// The broker would fail the batch anyway; say why in its log.
			Logf(LevelError, "consumer answered %d outcomes for a batch of %d", len(outcomes), len(batch))
		}
		answer := make([]consumer.Outcome, len(outcomes))
		for i, outcome := range outcomes {
			switch outcome.kind {
			case KindRetry:
				answer[i] = consumer.MakeOutcomeRetry(outcome.delayMs)
			case KindDeadLetter:
				answer[i] = consumer.MakeOutcomeDeadLetter(outcome.reason)
			default:
				answer[i] = consumer.MakeOutcomeAck()
			}
		}
		return answer
	}
}
