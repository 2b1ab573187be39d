// Package wasihttperror holds the error of a request the host answered with a wasi:http
// error-code: a package of its own, without net/http, so that package weir can name it
// (weir.WasiHTTPError) in every build.
package wasihttperror

// Error is a request the host answered with a wasi:http error-code: Code is its WIT name
// ("HTTP-request-denied", "connection-refused", ...), Detail what the host added.
type Error struct {
	Code   string
	Detail string
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return "wasi:http " + e.Code + ": " + e.Detail
	}
	return "wasi:http " + e.Code
}

// Timeout reports whether the code is one of an answer that did not come in time (so
// that net/http and callers see a net.Error-like timeout).
func (e *Error) Timeout() bool {
	switch e.Code {
	case "DNS-timeout", "connection-timeout", "connection-read-timeout",
		"connection-write-timeout", "HTTP-response-timeout":
		return true
	}
	return false
}
