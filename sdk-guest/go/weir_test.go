package weir_test

import (
	"errors"
	"slices"
	"testing"

	"weir"
	weirtest "weir/testing"
)

func TestWithPropertyReplacesAnEarlierValue(t *testing.T) {
	message := weir.NewOutgoing("t", []byte("b")).WithProperty("a", "1").WithProperty("a", "2")
	if want := []weir.Property{{Name: "a", Value: "2"}}; !slices.Equal(message.Properties, want) {
		t.Fatalf("properties %v", message.Properties)
	}
}

func TestBodyTextIsFalseForBinaryBodies(t *testing.T) {
	message := weir.Message{Body: []byte{0xff, 0xfe}}
	if _, ok := message.BodyText(); ok {
		t.Fatal("binary body read as text")
	}
}

func TestToOutgoingCopiesTheMessage(t *testing.T) {
	message := weir.Message{Keys: []string{"k"}, Tag: weir.String("t"), Body: []byte("hello"),
		Properties: []weir.Property{{Name: "p", Value: "v"}}}
	copy := message.ToOutgoing("audit")
	message.Body[0] = 'j'
	*message.Tag = "u"
	if copy.Topic != "audit" || string(copy.Body) != "hello" || *copy.Tag != "t" || copy.Keys[0] != "k" {
		t.Fatalf("%+v", copy)
	}
	if value, ok := message.Property("p"); !ok || value != "v" {
		t.Fatal("property")
	}
}

func TestOutcomesCompare(t *testing.T) {
	if weir.Retry(0) != weir.RetryWithBackoff || weir.Ack() == weir.Retry(0) || weir.DeadLetter("a") != weir.DeadLetter("a") {
		t.Fatal("outcomes do not compare by value")
	}
	if s := weir.DeadLetter("x").String(); s != `dead-letter("x")` {
		t.Fatal(s)
	}
}

func TestConfigCacheParsesAgainOnlyWhenTheConfigChanges(t *testing.T) {
	var cache weir.ConfigCache[int]
	parses := 0
	parse := func(config string) int { parses++; return len(config) }
	if cache.Get("abc", parse) != 3 || cache.Get("abc", parse) != 3 || parses != 1 {
		t.Fatal("parsed twice")
	}
	if cache.Get("de", parse) != 2 || parses != 2 {
		t.Fatal("kept a stale config")
	}
}

func TestStateExpiresWithTheClock(t *testing.T) {
	weirtest.Reset()
	weirtest.SetNowMs(1_000)
	if err := weir.StateSet("k", []byte("v"), 500); err != nil {
		t.Fatal(err)
	}
	weirtest.SetNowMs(1_499)
	if value, ok := weir.StateGet("k"); !ok || string(value) != "v" {
		t.Fatal("expired early")
	}
	weirtest.SetNowMs(1_500)
	if _, ok := weir.StateGet("k"); ok {
		t.Fatal("did not expire")
	}
}

func TestAZeroTTLKeepsTheValueUntilDeleted(t *testing.T) {
	weirtest.Reset()
	weirtest.SetNowMs(0)
	_ = weir.StateSet("k", []byte("v"), 0)
	weirtest.SetNowMs(1 << 62)
	if _, ok := weir.StateGet("k"); !ok {
		t.Fatal("expired")
	}
	weir.StateDelete("k")
	if _, ok := weir.StateGet("k"); ok {
		t.Fatal("not deleted")
	}
}

func TestFailuresAreHostErrors(t *testing.T) {
	weirtest.Reset()
	weirtest.FailPublish("publishing is not granted")
	_, err := weir.Publish(weir.NewOutgoing("t", []byte("b")))
	var hostErr *weir.HostError
	if !errors.As(err, &hostErr) || hostErr.Message != "publishing is not granted" {
		t.Fatalf("publish error %v", err)
	}
	weirtest.FailStateSet("quota")
	if err := weir.StateSet("k", []byte("v"), 0); !errors.As(err, &hostErr) {
		t.Fatalf("state error %v", err)
	}
	if _, err := weir.HTTPGet("http://x/"); !errors.As(err, &hostErr) {
		t.Fatalf("http error %v", err)
	}
}

func TestTheDoubleRecordsWhatThePluginDid(t *testing.T) {
	weirtest.Reset()
	weirtest.SetNowMs(42)
	weirtest.OnHTTP(func(call weirtest.HTTPCall) (weir.Response, error) {
		if call.URL == "http://svc/tx/1" {
			return weir.Response{Status: 200, Body: []byte("commit")}, nil
		}
		return weir.Response{Status: 404}, nil
	})
	weir.Log(weir.LevelWarn, "careful")
	id, _ := weir.Publish(weir.NewOutgoing("audit", []byte("x")).WithKey("k"))
	answer, err := weir.HTTPPost("http://svc/tx/1", []byte("q"), weir.Header{Name: "accept", Value: "text/plain"})
	if text, _ := answer.Text(); err != nil || !answer.IsSuccess() || text != "commit" {
		t.Fatalf("answer %+v %v", answer, err)
	}
	if weir.NowMs() != 42 || id != "test-1" {
		t.Fatal("clock or id")
	}
	if logs := weirtest.Logs(); len(logs) != 1 || logs[0] != (weirtest.LogLine{Level: weir.LevelWarn, Message: "careful"}) {
		t.Fatalf("logs %v", logs)
	}
	if published := weirtest.Published(); published[0].Topic != "audit" || published[0].Keys[0] != "k" {
		t.Fatalf("published %v", published)
	}
	calls := weirtest.HTTPCalls()
	if len(calls) != 1 || calls[0].Method != "POST" || string(calls[0].Body) != "q" || calls[0].Headers[0].Name != "accept" {
		t.Fatalf("calls %+v", calls)
	}
}

func TestRegisteringTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	weir.ExportConsumer(weir.ConsumerFunc(func(string, []weir.Message) []weir.Outcome { return nil }))
	weir.ExportDedupFilter(weir.DedupFilterFunc(func(string, weir.Message) (string, bool) { return "", false }))
}
