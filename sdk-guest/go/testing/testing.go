// Package weirtest (import path weir/testing) is a stand-in for the broker, for testing
// plugins natively with `go test`.
//
// Built for the host rather than WebAssembly, the SDK's host services (weir.Log,
// weir.NowMs, weir.StateGet/StateSet/StateDelete, weir.Publish, weir.HTTPRequest) talk to
// an in-memory double instead of the broker; this package sets it up and inspects it.
// There is one double per test binary: call Reset at the start of each test, and do not
// mark tests that use it parallel.
//
// By default the clock is the system clock, state is unlimited, publishing succeeds
// (answering ids test-1, test-2, ...) and every HTTP request fails as not allowed.
//
//	import weirtest "weir/testing"
//
//	func TestForwards(t *testing.T) {
//		weirtest.Reset()
//		weirtest.SetNowMs(1_000)
//		outcomes := forwarder{}.Handle("audit", []weir.Message{{ID: "m1", Body: []byte("hi")}})
//		if outcomes[0] != weir.Ack() || weirtest.Published()[0].Topic != "audit" {
//			t.Fatal(outcomes, weirtest.Published())
//		}
//	}
package weirtest

import (
	"errors"

	"weir"
	"weir/internal/fakehost"
)

// LogLine is a line a plugin logged.
type LogLine struct {
	Level   weir.Level
	Message string
}

// HTTPCall is an HTTP request a plugin made.
type HTTPCall struct {
	// Method is GET or POST.
	Method string
	// URL is the URL.
	URL string
	// Headers are the headers, in order.
	Headers []weir.Header
	// Body is the body.
	Body []byte
}

// Reset forgets everything: logs, state, published messages, HTTP calls and every
// setting.
func Reset() { fakehost.Reset() }

// SetNowMs fixes the clock at ms since the Unix epoch (state expiry follows it).
func SetNowMs(ms int64) { fakehost.SetNowMs(ms) }

// Logs answers the lines logged so far, oldest first.
func Logs() []LogLine {
	var lines []LogLine
	for _, line := range fakehost.Logs() {
		lines = append(lines, LogLine{Level: weir.Level(line.Level), Message: line.Message})
	}
	return lines
}

// Published answers the messages published so far, oldest first.
func Published() []weir.Outgoing {
	var messages []weir.Outgoing
	for _, message := range fakehost.Published() {
		messages = append(messages, message.(weir.Outgoing))
	}
	return messages
}

// FailPublish makes every following publish fail with reason ("": succeed again).
func FailPublish(reason string) { fakehost.FailPublish(reason) }

// FailStateSet makes every following state write fail with reason, as a full quota
// would ("": succeed again).
func FailStateSet(reason string) { fakehost.FailStateSet(reason) }

// OnHTTP answers the following HTTP requests with handler: a response, or an error whose
// message the plugin sees as the host's.
func OnHTTP(handler func(call HTTPCall) (weir.Response, error)) {
	fakehost.OnHTTP(func(call fakehost.HTTPCall) (uint16, []byte, error) {
		response, err := handler(fromFake(call))
		if err != nil {
			return 0, nil, errors.New(err.Error())
		}
		return response.Status, response.Body, nil
	})
}

// HTTPCalls answers the HTTP requests made so far, oldest first.
func HTTPCalls() []HTTPCall {
	var calls []HTTPCall
	for _, call := range fakehost.HTTPCalls() {
		calls = append(calls, fromFake(call))
	}
	return calls
}

func fromFake(call fakehost.HTTPCall) HTTPCall {
	converted := HTTPCall{Method: call.Method, URL: call.URL, Body: call.Body}
	for _, header := range call.Headers {
		converted.Headers = append(converted.Headers, weir.Header{Name: header[0], Value: header[1]})
	}
	return converted
}
