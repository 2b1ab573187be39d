//go:build !wasip1

package weir

// The host services on the build machine: the in-memory double of internal/fakehost,
// controlled by package weir/testing.

import "weir/internal/fakehost"

func hostLog(level Level, message string) { fakehost.Log(uint8(level), message) }

func hostNowMs() int64 { return fakehost.NowMs() }

func hostStateGet(key string) ([]byte, bool) { return fakehost.StateGet(key) }

func hostStateSet(key string, value []byte, ttlMs uint64) error {
	if err := fakehost.StateSet(key, value, ttlMs); err != nil {
		return hostError(err.Error())
	}
	return nil
}

func hostStateDelete(key string) { fakehost.StateDelete(key) }

func hostPublish(message Outgoing) (string, error) {
	id, err := fakehost.Publish(message.clone())
	if err != nil {
		return "", hostError(err.Error())
	}
	return id, nil
}

func hostHTTPRequest(method, url string, headers []Header, body []byte) (Response, error) {
	call := fakehost.HTTPCall{Method: method, URL: url, Body: append([]byte{}, body...)}
	for _, header := range headers {
		call.Headers = append(call.Headers, [2]string{header.Name, header.Value})
	}
	status, answer, err := fakehost.HTTPRequest(call)
	if err != nil {
		return Response{}, hostError(err.Error())
	}
	return Response{Status: status, Body: answer}, nil
}
