package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"weir"
)

// Natively, net/http keeps its real transport: the checker asks a local server.
func TestAnswersWhatTheServiceSays(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tx/tx-1":
			w.Write([]byte("commit\n"))
		case "/tx/tx-2":
			w.Write([]byte("rollback"))
		case "/tx/tx-3":
			w.Write([]byte("later"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer server.Close()
	config := server.URL + "/tx/{transaction}"
	for id, want := range map[string]weir.TxState{
		"tx-1": weir.Commit, "tx-2": weir.Rollback, "tx-3": weir.Unknown, "tx-4": weir.Unknown,
	} {
		if got := (httpChecker{}).Check(config, weir.Message{ID: id}, 1); got != want {
			t.Errorf("%s: %v, want %v", id, got, want)
		}
	}
}

func TestAFailedRequestIsUnknown(t *testing.T) {
	if got := (httpChecker{}).Check("http://127.0.0.1:1/tx/{transaction}", weir.Message{ID: "x"}, 1); got != weir.Unknown {
		t.Fatal(got)
	}
}
