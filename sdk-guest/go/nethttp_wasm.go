//go:build wasip1 && weir_net_http

package weir

// In a plugin that uses net/http (build.sh then adds the tag weir_net_http), net/http's
// default transport sends requests over wasi:http, under the binding's allowlist and
// limits: http.Get, http.Post, http.DefaultClient and any http.Client without a Transport
// of its own work as they do natively. Natively, net/http keeps its real transport.

import (
	"net/http"

	"weir/internal/wasihttp"
)

func init() { http.DefaultTransport = wasihttp.New() }
