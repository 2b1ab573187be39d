// Package wasihttp is an http.RoundTripper over wasi:http/outgoing-handler: what
// net/http's requests go through in a plugin, which has no sockets. The transport's logic
// is here, over Host (the few wasi:http calls it makes); host_wasm.go implements Host with
// the generated bindings, and the tests with a stand-in.
package wasihttp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"weir/internal/wasihttperror"
)

// WriteChunk is the most bytes one blocking write of a wasi:io output stream may take.
const WriteChunk = 4096

// ReadChunk is the most bytes asked of one blocking read.
const ReadChunk = 64 * 1024

// Request is what an outgoing-request is made of.
type Request struct {
	Method        string // "GET", "POST", ... (any other name is sent as method.other)
	Scheme        string // "http", "https" or another (scheme.other)
	Authority     string // host[:port]
	PathWithQuery string // "/path?query"
	Headers       [][2]string
}

// Host is the wasi:http side of a request, in the order the transport calls it:
// Send, then Write (zero or more times, at most WriteChunk bytes each) and Finish, then
// Wait; and Read on the answer's body until it reports the end, then Close.
type Host interface {
	// Send builds the outgoing-request, takes its body's output stream, and passes the
	// request to outgoing-handler.handle.
	Send(request Request) (Pending, error)
}

// Pending is a request handed to outgoing-handler.handle whose body is still open.
type Pending interface {
	// Write writes a piece of the body (blocking-write-and-flush).
	Write(chunk []byte) error
	// Finish closes the body stream and finishes the outgoing-body.
	Finish() error
	// Wait blocks on the future-incoming-response and answers the status and headers.
	Wait() (Answer, error)
}

// Answer is an incoming-response: its status, headers and body.
type Answer struct {
	Status  int
	Headers [][2]string
	Body    Body
}

// Body is an incoming-body's stream.
type Body interface {
	// Read answers up to max bytes; eof once the stream is closed.
	Read(max int) (data []byte, eof bool, err error)
	// Close drops the stream and the body.
	Close()
}

// Error is a request the host answered with a wasi:http error-code (weir.WasiHTTPError).
type Error = wasihttperror.Error

// Transport sends requests through Host. Its zero value is not usable: set Host.
type Transport struct {
	Host Host
	// MaxAnswer is the most bytes of an answer's body read; 0 is 4 MiB (the broker's
	// own answer limit).
	MaxAnswer int
}

// hostHeaders are the headers a wasi:http host refuses from a guest: it sets them itself.
var hostHeaders = map[string]bool{
	"connection": true, "host": true, "http2-settings": true, "keep-alive": true,
	"proxy-authenticate": true, "proxy-authorization": true, "proxy-connection": true,
	"te": true, "transfer-encoding": true, "upgrade": true,
}

// RoundTrip sends req and reads the whole answer before returning, so the response holds
// no host resources. It blocks: the request's context is not watched.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	response, err := t.roundTrip(req)
	if err != nil && req.Body != nil {
		req.Body.Close()
	}
	return response, err
}

func (t *Transport) roundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		return nil, errors.New("wasihttp: request without a URL")
	}
	if req.URL.Host == "" {
		return nil, fmt.Errorf("wasihttp: no host in request URL %q", req.URL.String())
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	scheme := req.URL.Scheme
	if scheme == "" {
		scheme = "http"
	}
	request := Request{
		Method:        method,
		Scheme:        scheme,
		Authority:     req.URL.Host,
		PathWithQuery: req.URL.RequestURI(),
	}
	for name, values := range req.Header {
		if hostHeaders[strings.ToLower(name)] {
			continue
		}
		for _, value := range values {
			request.Headers = append(request.Headers, [2]string{name, value})
		}
	}
	if req.Body != nil && req.ContentLength > 0 && req.Header.Get("Content-Length") == "" {
		request.Headers = append(request.Headers, [2]string{"Content-Length", strconv.FormatInt(req.ContentLength, 10)})
	}

	pending, err := t.Host.Send(request)
	if err != nil {
		return nil, err
	}
	// The body goes after outgoing-handler.handle: the host buffers little of it before
	// the request is on its way.
	if req.Body != nil {
		buffer := make([]byte, WriteChunk)
		for {
			n, readErr := req.Body.Read(buffer)
			if n > 0 {
				if err := pending.Write(buffer[:n]); err != nil {
					return nil, err
				}
			}
			if readErr == io.EOF {
				break
			}
			if readErr != nil {
				return nil, fmt.Errorf("wasihttp: reading the request body: %w", readErr)
			}
		}
		req.Body.Close()
	}
	if err := pending.Finish(); err != nil {
		return nil, err
	}
	answer, err := pending.Wait()
	if err != nil {
		return nil, err
	}
	body, err := t.readAll(answer.Body)
	if err != nil {
		return nil, err
	}

	header := make(http.Header, len(answer.Headers))
	for _, pair := range answer.Headers {
		header.Add(pair[0], pair[1])
	}
	contentLength := int64(len(body))
	if method == http.MethodHead {
		contentLength = -1
		if declared, err := strconv.ParseInt(header.Get("Content-Length"), 10, 64); err == nil {
			contentLength = declared
		}
	}
	// The body is read whole and decoded as the server sent it: Transfer-Encoding is the
	// host's business, Content-Length is what it read.
	header.Del("Transfer-Encoding")
	return &http.Response{
		Status:        strconv.Itoa(answer.Status) + " " + http.StatusText(answer.Status),
		StatusCode:    answer.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: contentLength,
		Request:       req,
	}, nil
}

func (t *Transport) readAll(body Body) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	defer body.Close()
	limit := t.MaxAnswer
	if limit <= 0 {
		limit = 4 << 20
	}
	var data []byte
	for {
		piece, eof, err := body.Read(ReadChunk)
		if err != nil {
			return nil, err
		}
		data = append(data, piece...)
		if len(data) > limit {
			return nil, fmt.Errorf("wasihttp: answer body larger than %d bytes", limit)
		}
		if eof {
			return data, nil
		}
	}
}
