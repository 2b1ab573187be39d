package wasihttp

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// fakeHost records the calls the transport makes, in order, and answers with answer.
type fakeHost struct {
	calls   []string
	request Request
	writes  [][]byte
	sendErr error
	waitErr error
	answer  Answer
}

func (h *fakeHost) Send(request Request) (Pending, error) {
	h.calls = append(h.calls, "send")
	h.request = request
	if h.sendErr != nil {
		return nil, h.sendErr
	}
	return (*fakePending)(h), nil
}

type fakePending fakeHost

func (p *fakePending) Write(chunk []byte) error {
	p.calls = append(p.calls, "write")
	p.writes = append(p.writes, append([]byte(nil), chunk...))
	return nil
}

func (p *fakePending) Finish() error {
	p.calls = append(p.calls, "finish")
	return nil
}

func (p *fakePending) Wait() (Answer, error) {
	p.calls = append(p.calls, "wait")
	return p.answer, p.waitErr
}

// fakeBody answers its pieces one Read at a time, then the end.
type fakeBody struct {
	pieces []string
	closed bool
}

func (b *fakeBody) Read(max int) ([]byte, bool, error) {
	if len(b.pieces) == 0 {
		return nil, true, nil
	}
	piece := b.pieces[0]
	b.pieces = b.pieces[1:]
	return []byte(piece), false, nil
}

func (b *fakeBody) Close() { b.closed = true }

func client(host Host) *http.Client { return &http.Client{Transport: &Transport{Host: host}} }

func TestGetSendsTheURLAndReadsTheAnswer(t *testing.T) {
	body := &fakeBody{pieces: []string{"com", "mit"}}
	host := &fakeHost{answer: Answer{Status: 200, Headers: [][2]string{{"content-type", "text/plain"}}, Body: body}}
	request, _ := http.NewRequest("GET", "http://127.0.0.1:9000/tx/t-1?x=1", nil)
	request.Header.Set("Accept", "text/plain")
	request.Header.Set("Connection", "close")
	response, err := client(host).Do(request)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(response.Body)
	if string(data) != "commit" || response.StatusCode != 200 || response.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("answer %d %v %q", response.StatusCode, response.Header, data)
	}
	if response.ContentLength != 6 || !body.closed {
		t.Fatalf("content length %d, body closed %v", response.ContentLength, body.closed)
	}
	want := Request{Method: "GET", Scheme: "http", Authority: "127.0.0.1:9000", PathWithQuery: "/tx/t-1?x=1"}
	got := host.request
	if got.Method != want.Method || got.Scheme != want.Scheme || got.Authority != want.Authority || got.PathWithQuery != want.PathWithQuery {
		t.Fatalf("request %+v", got)
	}
	for _, header := range got.Headers {
		if strings.EqualFold(header[0], "connection") {
			t.Fatalf("host header sent: %v", got.Headers)
		}
	}
	if len(got.Headers) != 1 || got.Headers[0] != [2]string{"Accept", "text/plain"} {
		t.Fatalf("headers %v", got.Headers)
	}
	if strings.Join(host.calls, ",") != "send,finish,wait" {
		t.Fatalf("calls %v", host.calls)
	}
}

func TestTheBodyIsWrittenAfterHandleInChunks(t *testing.T) {
	host := &fakeHost{answer: Answer{Status: 201, Body: &fakeBody{}}}
	payload := strings.Repeat("x", 2*WriteChunk+10)
	response, err := client(host).Post("http://svc/orders", "application/json", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	if response.StatusCode != 201 || response.Status != "201 Created" {
		t.Fatalf("status %q", response.Status)
	}
	if host.calls[0] != "send" || host.calls[len(host.calls)-2] != "finish" || host.calls[len(host.calls)-1] != "wait" {
		t.Fatalf("calls %v", host.calls)
	}
	var sent strings.Builder
	for _, chunk := range host.writes {
		if len(chunk) > WriteChunk {
			t.Fatalf("write of %d bytes", len(chunk))
		}
		sent.Write(chunk)
	}
	if sent.String() != payload || len(host.writes) < 3 {
		t.Fatalf("%d writes, %d bytes", len(host.writes), sent.Len())
	}
	if host.request.Method != "POST" {
		t.Fatalf("method %q", host.request.Method)
	}
	var length, contentType string
	for _, header := range host.request.Headers {
		switch strings.ToLower(header[0]) {
		case "content-length":
			length = header[1]
		case "content-type":
			contentType = header[1]
		}
	}
	if length != "8202" || contentType != "application/json" {
		t.Fatalf("headers %v", host.request.Headers)
	}
}

func TestErrorsNameTheWasiHTTPCode(t *testing.T) {
	host := &fakeHost{waitErr: &Error{Code: "HTTP-request-denied"}}
	_, err := client(host).Get("http://elsewhere/")
	var wasiErr *Error
	if !errors.As(err, &wasiErr) || wasiErr.Code != "HTTP-request-denied" {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "wasi:http HTTP-request-denied") {
		t.Fatalf("message %q", err.Error())
	}
	timeout := &Error{Code: "connection-timeout", Detail: "after 5s"}
	if !timeout.Timeout() || timeout.Error() != "wasi:http connection-timeout: after 5s" {
		t.Fatal(timeout)
	}
}

func TestTheSchemeDefaultsToHTTPAndAnswersHaveALimit(t *testing.T) {
	host := &fakeHost{answer: Answer{Status: 200, Body: &fakeBody{pieces: []string{"12345"}}}}
	transport := &Transport{Host: host, MaxAnswer: 4}
	request, _ := http.NewRequest("GET", "//svc/x", nil)
	if _, err := transport.RoundTrip(request); err == nil || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Fatalf("error %v", err)
	}
	if host.request.Scheme != "http" || host.request.Authority != "svc" {
		t.Fatalf("request %+v", host.request)
	}
}
