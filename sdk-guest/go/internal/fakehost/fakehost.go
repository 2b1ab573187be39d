// Package fakehost is the in-memory stand-in for the broker's host services that package
// weir calls when it is built for the host rather than WebAssembly; package weir/testing
// is its public face. It keeps values of package weir's types as opaque `any`, so that
// it imports nothing of the SDK.
package fakehost

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// LogLine is one line a plugin logged; Level is a weir.Level.
type LogLine struct {
	Level   uint8
	Message string
}

// HTTPCall is one request a plugin made; Headers are name/value pairs.
type HTTPCall struct {
	Method  string
	URL     string
	Headers [][2]string
	Body    []byte
}

// HTTPHandler answers a request: status and body, or the message of a failure.
type HTTPHandler func(call HTTPCall) (uint16, []byte, error)

type entry struct {
	value   []byte
	expires int64 // ms since the epoch; 0: never
}

type host struct {
	nowMs        *int64
	logs         []LogLine
	state        map[string]entry
	stateError   string
	published    []any
	publishError string
	http         HTTPHandler
	httpCalls    []HTTPCall
}

var (
	mu      sync.Mutex
	current = host{state: map[string]entry{}}
)

// Reset forgets everything: logs, state, published messages, HTTP calls, settings.
func Reset() {
	mu.Lock()
	defer mu.Unlock()
	current = host{state: map[string]entry{}}
}

// SetNowMs fixes the clock.
func SetNowMs(ms int64) {
	mu.Lock()
	defer mu.Unlock()
	current.nowMs = &ms
}

// Logs answers the lines logged so far.
func Logs() []LogLine {
	mu.Lock()
	defer mu.Unlock()
	return append([]LogLine(nil), current.logs...)
}

// Published answers the messages published so far (weir.Outgoing values).
func Published() []any {
	mu.Lock()
	defer mu.Unlock()
	return append([]any(nil), current.published...)
}

// FailPublish makes publishes fail with reason ("": succeed).
func FailPublish(reason string) {
	mu.Lock()
	defer mu.Unlock()
	current.publishError = reason
}

// FailStateSet makes state writes fail with reason ("": succeed).
func FailStateSet(reason string) {
	mu.Lock()
	defer mu.Unlock()
	current.stateError = reason
}

// OnHTTP answers the following requests with handler.
func OnHTTP(handler HTTPHandler) {
	mu.Lock()
	defer mu.Unlock()
	current.http = handler
}

// HTTPCalls answers the requests made so far.
func HTTPCalls() []HTTPCall {
	mu.Lock()
	defer mu.Unlock()
	return append([]HTTPCall(nil), current.httpCalls...)
}

// Log records a line.
func Log(level uint8, message string) {
	mu.Lock()
	defer mu.Unlock()
	current.logs = append(current.logs, LogLine{level, message})
}

// NowMs answers the fixed clock, or the system's.
func NowMs() int64 {
	mu.Lock()
	defer mu.Unlock()
	return nowLocked()
}

func nowLocked() int64 {
	if current.nowMs != nil {
		return *current.nowMs
	}
	return time.Now().UnixMilli()
}

// StateGet answers a value unless absent or expired.
func StateGet(key string) ([]byte, bool) {
	mu.Lock()
	defer mu.Unlock()
	e, ok := current.state[key]
	if !ok {
		return nil, false
	}
	if e.expires != 0 && e.expires <= nowLocked() {
		delete(current.state, key)
		return nil, false
	}
	return append([]byte{}, e.value...), true
}

// StateSet stores a value for ttlMs (0: until deleted).
func StateSet(key string, value []byte, ttlMs uint64) error {
	mu.Lock()
	defer mu.Unlock()
	if current.stateError != "" {
		return fmt.Errorf("%s", current.stateError)
	}
	var expires int64
	if ttlMs > 0 {
		now := nowLocked()
		if ttlMs > uint64(math.MaxInt64-now) {
			expires = math.MaxInt64
		} else {
			expires = now + int64(ttlMs)
		}
	}
	current.state[key] = entry{append([]byte{}, value...), expires}
	return nil
}

// StateDelete deletes a value.
func StateDelete(key string) {
	mu.Lock()
	defer mu.Unlock()
	delete(current.state, key)
}

// Publish records a message and answers ids test-1, test-2, ...
func Publish(message any) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if current.publishError != "" {
		return "", fmt.Errorf("%s", current.publishError)
	}
	current.published = append(current.published, message)
	return fmt.Sprintf("test-%d", len(current.published)), nil
}

// HTTPRequest records a request and answers it with the handler; without one, every URL
// is refused as not on the allowlist.
func HTTPRequest(call HTTPCall) (uint16, []byte, error) {
	mu.Lock()
	current.httpCalls = append(current.httpCalls, call)
	handler := current.http
	mu.Unlock()
	// The handler runs outside the lock, so it may use the double itself.
	if handler == nil {
		return 0, nil, fmt.Errorf("%s is not on the binding's allowlist", call.URL)
	}
	return handler(call)
}
