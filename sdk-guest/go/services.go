package weir

import (
	"fmt"
	"unicode/utf8"

	"weir/internal/wasihttperror"
)

// Level is how important a log line is.
type Level uint8

const (
	// LevelTrace is very detailed tracing.
	LevelTrace Level = iota
	// LevelDebug is debugging detail.
	LevelDebug
	// LevelInfo is normal operation.
	LevelInfo
	// LevelWarn is something unexpected that the plugin handled.
	LevelWarn
	// LevelError is something that failed.
	LevelError
)

// String answers `trace`, `debug`, `info`, `warn` or `error`.
func (l Level) String() string {
	switch l {
	case LevelTrace:
		return "trace"
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	default:
		return "error"
	}
}

// Log writes message to the broker's log at level, tagged with the binding that ran the
// plugin. Logging is a host call: keep it off the per-message path of hot consumers.
func Log(level Level, message string) {
	if level > LevelError {
		level = LevelError
	}
	hostLog(level, message)
}

// Logf writes a formatted line to the broker's log at level.
func Logf(level Level, format string, args ...any) {
	Log(level, fmt.Sprintf(format, args...))
}

// NowMs answers milliseconds since the Unix epoch, by the broker's clock.
func NowMs() int64 {
	return hostNowMs()
}

// HostError is a host service refusing a request: the binding's state quota is full,
// publishing is not granted, a URL is not on the binding's allowlist, a connection
// failed, ... The broker chooses the message; it is meant for logs and dead-letter
// reasons, not for matching on.
type HostError struct {
	Message string
}

func (e *HostError) Error() string { return e.Message }

func hostError(message string) error { return &HostError{Message: message} }

// Publish sends message through the broker and answers the new message's id.
//
// Only consumer bindings granted publishing may publish. If the batch later fails and is
// retried, the consumer publishes again: a target that must not see duplicates binds a
// dedup filter. The error is a *HostError when publishing is not granted, the topic does
// not exist, or the broker cannot store the message.
func Publish(message Outgoing) (string, error) {
	return hostPublish(message)
}

// StateGet answers the value of this binding's state under key; ok is false when it is
// absent or expired.
//
// Each binding has its own namespace, shared by its instances and kept by the broker
// (durable within 5 seconds): state is the way to remember things across batches.
func StateGet(key string) (value []byte, ok bool) {
	return hostStateGet(key)
}

// StateSet stores value under key for ttlMs milliseconds (0: until deleted). The error
// is a *HostError when the binding's state quota would be exceeded.
func StateSet(key string, value []byte, ttlMs uint64) error {
	return hostStateSet(key, value, ttlMs)
}

// StateDelete deletes the value under key, if any.
func StateDelete(key string) {
	hostStateDelete(key)
}

// Header is an HTTP header: a name and a value.
type Header struct {
	Name  string
	Value string
}

// Response is the answer to an HTTP request: its status and body. A non-2xx status is
// not an error.
type Response struct {
	Status uint16
	Body   []byte
}

// IsSuccess tells whether the status is 2xx.
func (r Response) IsSuccess() bool { return r.Status >= 200 && r.Status < 300 }

// Text answers the body as text, when it is valid UTF-8.
func (r Response) Text() (string, bool) { return textOf(r.Body) }

// HTTPGet makes a GET of url with headers through the broker, only to URLs on the
// binding's allowlist. The error is a *HostError when the URL is not allowed or the
// request fails (connection, timeout, oversized answer).
func HTTPGet(url string, headers ...Header) (Response, error) {
	return HTTPRequest("GET", url, headers, nil)
}

// HTTPPost makes a POST of body to url with headers; errors as for HTTPGet.
func HTTPPost(url string, body []byte, headers ...Header) (Response, error) {
	return HTTPRequest("POST", url, headers, body)
}

// HTTPRequest makes a request with any method the broker accepts (it offers GET and
// POST); errors as for HTTPGet.
func HTTPRequest(method, url string, headers []Header, body []byte) (Response, error) {
	return hostHTTPRequest(method, url, headers, body)
}

func textOf(body []byte) (string, bool) {
	if !utf8.Valid(body) {
		return "", false
	}
	return string(body), true
}

// WasiHTTPError is why a net/http request got no answer in a component: the broker
// refused it or could not send it. Code is the wasi:http error code
// ("HTTP-request-denied" for a URL off the binding's allowlist, "connection-refused",
// "HTTP-response-timeout"...), Detail what the host added. net/http wraps it: find it with
// errors.As. Natively net/http keeps its own transport and never answers one.
type WasiHTTPError = wasihttperror.Error
