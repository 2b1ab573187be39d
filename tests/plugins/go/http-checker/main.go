// Command http-checker is a test transaction checker that asks an HTTP service with
// Go's own net/http client (http.Get), which the SDK sends over wasi:http.
//
// Config: a URL in which `{transaction}` is replaced by the transaction id (the half
// message's id), e.g. http://127.0.0.1:9000/tx/{transaction}. An answer of status 200
// whose body is `commit` or `rollback` (surrounding spaces ignored) decides; anything
// else, a failed request included (logged), is unknown, and the broker asks again later.
package main

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"weir"
)

type httpChecker struct{}

func (httpChecker) Check(config string, half weir.Message, checks uint32) weir.TxState {
	target := strings.ReplaceAll(strings.TrimSpace(config), "{transaction}", url.PathEscape(half.ID))
	response, err := http.Get(target)
	if err != nil {
		// In a component, a request the broker refused or could not send names the
		// wasi:http error code (HTTP-request-denied for a URL off the allowlist).
		var refused *weir.WasiHTTPError
		if errors.As(err, &refused) {
			weir.Logf(weir.LevelWarn, "http-checker: %s: %s (%v)", target, refused.Code, err)
		} else {
			weir.Logf(weir.LevelWarn, "http-checker: %s: %v", target, err)
		}
		return weir.Unknown
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil || response.StatusCode != http.StatusOK {
		weir.Logf(weir.LevelWarn, "http-checker: %s answered %s", target, response.Status)
		return weir.Unknown
	}
	switch strings.TrimSpace(string(body)) {
	case "commit":
		return weir.Commit
	case "rollback":
		return weir.Rollback
	}
	return weir.Unknown
}

func init() { weir.ExportTxChecker(httpChecker{}) }

func main() {}
