package weir

import "fmt"

// OutcomeKind tells which of Ack, Retry and DeadLetter an Outcome is.
type OutcomeKind uint8

const (
	// KindAck is done: the broker acks the message.
	KindAck OutcomeKind = iota
	// KindRetry is failed: the broker delivers it again after a delay.
	KindRetry
	// KindDeadLetter is given up: the broker moves it to the group's dead-letter queue.
	KindDeadLetter
)

// Outcome is what happens to one message of a batch: Ack(), Retry(ms) or
// DeadLetter(reason). Outcomes compare with ==.
type Outcome struct {
	kind    OutcomeKind
	delayMs uint64
	reason  string
}

// RetryWithBackoff retries after the group's backoff for this attempt (Retry(0)).
var RetryWithBackoff = Retry(0)

// Ack is done: the broker acks the message.
func Ack() Outcome { return Outcome{kind: KindAck} }

// Retry is failed: deliver the message again after delayMs milliseconds (0: the group's
// backoff). After the group's maximum attempts it is dead-lettered instead.
func Retry(delayMs uint64) Outcome { return Outcome{kind: KindRetry, delayMs: delayMs} }

// DeadLetter gives up: move the message to the group's dead-letter queue with reason.
func DeadLetter(reason string) Outcome { return Outcome{kind: KindDeadLetter, reason: reason} }

// Kind answers which outcome this is.
func (o Outcome) Kind() OutcomeKind { return o.kind }

// DelayMs answers the delay of a Retry (0 otherwise).
func (o Outcome) DelayMs() uint64 { return o.delayMs }

// Reason answers the reason of a DeadLetter ("" otherwise).
func (o Outcome) Reason() string { return o.reason }

// String answers `ack`, `retry(500)` or `dead-letter("reason")`.
func (o Outcome) String() string {
	switch o.kind {
	case KindRetry:
		return fmt.Sprintf("retry(%d)", o.delayMs)
	case KindDeadLetter:
		return fmt.Sprintf("dead-letter(%q)", o.reason)
	default:
		return "ack"
	}
}

// Repeat answers n copies of outcome, for a batch that ends the same way throughout.
func Repeat(outcome Outcome, n int) []Outcome {
	outcomes := make([]Outcome, n)
	for i := range outcomes {
		outcomes[i] = outcome
	}
	return outcomes
}
