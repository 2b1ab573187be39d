//go:build wasip1

package wasihttp

// Host over the generated bindings of wasi:http/outgoing-handler and wasi:http/types.
// Resources are dropped explicitly, children before their parents (a stream before its
// body, a body before its response), as the host requires.

import (
	"errors"
	"fmt"

	types "weir/internal/bindings/wasi/httptypes"
	handler "weir/internal/bindings/wasi/outgoinghandler"
	streams "weir/internal/bindings/wasi/streams"
	witTypes "weir/internal/wit/types"
)

// New answers a Transport that sends its requests over wasi:http.
func New() *Transport { return &Transport{Host: bindingsHost{}} }

type bindingsHost struct{}

func (bindingsHost) Send(request Request) (Pending, error) {
	entries := make([]witTypes.Tuple2[string, []uint8], len(request.Headers))
	for i, header := range request.Headers {
		entries[i] = witTypes.Tuple2[string, []uint8]{F0: header[0], F1: []byte(header[1])}
	}
	fields := types.FieldsFromList(entries)
	if fields.IsErr() {
		return nil, fmt.Errorf("wasihttp: headers refused (%s)", headerError(fields.Err()))
	}
	outgoing := types.MakeOutgoingRequest(fields.Ok())
	if outgoing.SetMethod(method(request.Method)).IsErr() {
		outgoing.Drop()
		return nil, fmt.Errorf("wasihttp: invalid method %q", request.Method)
	}
	if outgoing.SetScheme(witTypes.Some(scheme(request.Scheme))).IsErr() {
		outgoing.Drop()
		return nil, fmt.Errorf("wasihttp: invalid scheme %q", request.Scheme)
	}
	if outgoing.SetAuthority(witTypes.Some(request.Authority)).IsErr() {
		outgoing.Drop()
		return nil, fmt.Errorf("wasihttp: invalid authority %q", request.Authority)
	}
	if outgoing.SetPathWithQuery(witTypes.Some(request.PathWithQuery)).IsErr() {
		outgoing.Drop()
		return nil, fmt.Errorf("wasihttp: invalid path %q", request.PathWithQuery)
	}
	// The body and its stream are taken before handle, which consumes the request; they
	// are written after it.
	body := outgoing.Body().Ok()
	stream := body.Write().Ok()
	future := handler.Handle(outgoing, witTypes.None[*types.RequestOptions]())
	if future.IsErr() {
		stream.Drop()
		body.Drop()
		return nil, codeError(future.Err())
	}
	return &pending{body: body, stream: stream, future: future.Ok()}, nil
}

type pending struct {
	body   *types.OutgoingBody
	stream *streams.OutputStream
	future *types.FutureIncomingResponse
}

func (p *pending) Write(chunk []byte) error {
	if result := p.stream.BlockingWriteAndFlush(chunk); result.IsErr() {
		err := streamError(result.Err())
		p.abandon()
		return err
	}
	return nil
}

func (p *pending) Finish() error {
	p.stream.Drop()
	p.stream = nil
	body := p.body
	p.body = nil
	if result := types.OutgoingBodyFinish(body, witTypes.None[*types.Fields]()); result.IsErr() {
		err := codeError(result.Err())
		p.future.Drop()
		return err
	}
	return nil
}

// abandon drops what is left of a request that failed while its body was written.
func (p *pending) abandon() {
	if p.stream != nil {
		p.stream.Drop()
	}
	if p.body != nil {
		p.body.Drop()
	}
	p.future.Drop()
}

func (p *pending) Wait() (Answer, error) {
	defer p.future.Drop()
	pollable := p.future.Subscribe()
	pollable.Block()
	pollable.Drop()
	got := p.future.Get()
	if got.IsNone() || got.Some().IsErr() {
		return Answer{}, errors.New("wasihttp: the response was not ready after waiting")
	}
	outcome := got.Some().Ok()
	if outcome.IsErr() {
		return Answer{}, codeError(outcome.Err())
	}
	response := outcome.Ok()
	answer := Answer{Status: int(response.Status())}
	headers := response.Headers()
	for _, entry := range headers.Entries() {
		answer.Headers = append(answer.Headers, [2]string{entry.F0, string(entry.F1)})
	}
	headers.Drop()
	consumed := response.Consume()
	if consumed.IsErr() {
		response.Drop()
		return Answer{}, errors.New("wasihttp: the response body was already taken")
	}
	incoming := consumed.Ok()
	stream := incoming.Stream()
	if stream.IsErr() {
		incoming.Drop()
		response.Drop()
		return Answer{}, errors.New("wasihttp: the response body stream was already taken")
	}
	answer.Body = &body{response: response, incoming: incoming, stream: stream.Ok()}
	return answer, nil
}

type body struct {
	response *types.IncomingResponse
	incoming *types.IncomingBody
	stream   *streams.InputStream
}

func (b *body) Read(max int) ([]byte, bool, error) {
	result := b.stream.BlockingRead(uint64(max))
	if result.IsErr() {
		if result.Err().Tag() == streams.StreamError_Closed {
			return nil, true, nil
		}
		return nil, false, streamError(result.Err())
	}
	return result.Ok(), false, nil
}

func (b *body) Close() {
	b.stream.Drop()
	b.incoming.Drop()
	b.response.Drop()
}

func method(name string) types.Method {
	switch name {
	case "GET":
		return types.MakeMethodGet()
	case "HEAD":
		return types.MakeMethodHead()
	case "POST":
		return types.MakeMethodPost()
	case "PUT":
		return types.MakeMethodPut()
	case "DELETE":
		return types.MakeMethodDelete()
	case "CONNECT":
		return types.MakeMethodConnect()
	case "OPTIONS":
		return types.MakeMethodOptions()
	case "TRACE":
		return types.MakeMethodTrace()
	case "PATCH":
		return types.MakeMethodPatch()
	}
	return types.MakeMethodOther(name)
}

func scheme(name string) types.Scheme {
	switch name {
	case "http":
		return types.MakeSchemeHttp()
	case "https":
		return types.MakeSchemeHttps()
	}
	return types.MakeSchemeOther(name)
}

func headerError(err types.HeaderError) string {
	switch err.Tag() {
	case types.HeaderError_InvalidSyntax:
		return "invalid-syntax"
	case types.HeaderError_Forbidden:
		return "forbidden"
	}
	return "immutable"
}

// streamError is the error of a failed stream operation: the wasi:http error code the
// host gives for it when it has one.
func streamError(err streams.StreamError) error {
	if err.Tag() == streams.StreamError_Closed {
		return errors.New("wasihttp: stream closed")
	}
	failure := err.LastOperationFailed()
	defer failure.Drop()
	if code := types.HttpErrorCode(failure); code.IsSome() {
		return codeError(code.Some())
	}
	return &Error{Code: "internal-error", Detail: failure.ToDebugString()}
}

// codeNames are the WIT names of the cases of error-code, by tag.
var codeNames = [...]string{
	"DNS-timeout", "DNS-error", "destination-not-found", "destination-unavailable",
	"destination-IP-prohibited", "destination-IP-unroutable", "connection-refused",
	"connection-terminated", "connection-timeout", "connection-read-timeout",
	"connection-write-timeout", "connection-limit-reached", "TLS-protocol-error",
	"TLS-certificate-error", "TLS-alert-received", "HTTP-request-denied",
	"HTTP-request-length-required", "HTTP-request-body-size", "HTTP-request-method-invalid",
	"HTTP-request-URI-invalid", "HTTP-request-URI-too-long",
	"HTTP-request-header-section-size", "HTTP-request-header-size",
	"HTTP-request-trailer-section-size", "HTTP-request-trailer-size",
	"HTTP-response-incomplete", "HTTP-response-header-section-size",
	"HTTP-response-header-size", "HTTP-response-body-size",
	"HTTP-response-trailer-section-size", "HTTP-response-trailer-size",
	"HTTP-response-transfer-coding", "HTTP-response-content-coding",
	"HTTP-response-timeout", "HTTP-upgrade-failed", "HTTP-protocol-error",
	"loop-detected", "configuration-error", "internal-error",
}

func codeError(code types.ErrorCode) error {
	err := &Error{Code: fmt.Sprintf("error-code %d", code.Tag())}
	if int(code.Tag()) < len(codeNames) {
		err.Code = codeNames[code.Tag()]
	}
	switch code.Tag() {
	case types.ErrorCode_InternalError:
		if detail := code.InternalError(); detail.IsSome() {
			err.Detail = detail.Some()
		}
	case types.ErrorCode_DnsError:
		if rcode := code.DnsError().Rcode; rcode.IsSome() {
			err.Detail = rcode.Some()
		}
	case types.ErrorCode_HttpResponseTransferCoding:
		if detail := code.HttpResponseTransferCoding(); detail.IsSome() {
			err.Detail = detail.Some()
		}
	case types.ErrorCode_HttpResponseContentCoding:
		if detail := code.HttpResponseContentCoding(); detail.IsSome() {
			err.Detail = detail.Some()
		}
	}
	return err
}
