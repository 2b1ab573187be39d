package main

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"weir"
	weirtest "weir/testing"
)

func message(id, body string) weir.Message {
	return weir.Message{ID: id, Topic: "orders", Body: []byte(body), Attempt: 1}
}

// onAttempt answers message as delivered for the attempt-th time.
func onAttempt(message weir.Message, attempt uint32) weir.Message {
	message.Attempt = attempt
	return message
}

func TestForwardsAndAcksEveryMessage(t *testing.T) {
	weirtest.Reset()
	batch := []weir.Message{message("a", "one"), message("b", "two")}
	config := `{"to":"orders-eu","add_properties":{"region":"eu"},"uppercase":true}`
	if got := (forwarder{}).Handle(config, batch); !slices.Equal(got, []weir.Outcome{weir.Ack(), weir.Ack()}) {
		t.Fatalf("outcomes %v", got)
	}
	published := weirtest.Published()
	if len(published) != 2 || published[0].Topic != "orders-eu" || string(published[0].Body) != "ONE" {
		t.Fatalf("published %+v", published)
	}
	if want := []weir.Property{{Name: "region", Value: "eu"}}; !slices.Equal(published[1].Properties, want) {
		t.Fatalf("properties %v", published[1].Properties)
	}
}

func TestABareTopicIsAConfig(t *testing.T) {
	weirtest.Reset()
	if got := (forwarder{}).Handle("audit", []weir.Message{message("a", "x")}); !slices.Equal(got, []weir.Outcome{weir.Ack()}) {
		t.Fatalf("outcomes %v", got)
	}
	if topic := weirtest.Published()[0].Topic; topic != "audit" {
		t.Fatalf("topic %q", topic)
	}
}

func TestAFailedPublishRetriesItAndTheRestOfTheBatch(t *testing.T) {
	weirtest.Reset()
	weirtest.FailPublish("topic orders-eu does not exist")
	batch := []weir.Message{message("a", "1"), message("b", "2")}
	got := (forwarder{}).Handle(`{"to":"orders-eu","retry_ms":500}`, batch)
	if !slices.Equal(got, []weir.Outcome{weir.Retry(500), weir.Retry(500)}) {
		t.Fatalf("outcomes %v", got)
	}
	if logs := weirtest.Logs(); len(logs) != 1 {
		t.Fatalf("one attempt, one warning: %v", logs)
	}
}

func TestAFailedPublishBeforeDeadLetterAfterRetries(t *testing.T) {
	weirtest.Reset()
	weirtest.FailPublish("topic orders-eu does not exist")
	config := `{"to":"orders-eu","retry_ms":500,"dead_letter_after":3}`
	got := (forwarder{}).Handle(config, []weir.Message{onAttempt(message("a", "1"), 2)})
	if !slices.Equal(got, []weir.Outcome{weir.Retry(500)}) {
		t.Fatalf("outcomes %v", got)
	}
	if logs := weirtest.Logs(); len(logs) != 1 || !strings.HasSuffix(logs[0].Message, "; retrying") {
		t.Fatalf("logs %v", logs)
	}
}

func TestAFailedPublishFromDeadLetterAfterDeadLettersItAndRetriesTheRest(t *testing.T) {
	weirtest.Reset()
	weirtest.FailPublish("topic orders-eu does not exist")
	config := `{"to":"orders-eu","retry_ms":500,"dead_letter_after":3}`
	for _, attempt := range []uint32{3, 4} {
		batch := []weir.Message{onAttempt(message("a", "1"), attempt), message("b", "2"), onAttempt(message("c", "3"), 7)}
		reason := fmt.Sprintf("forwarder: publishing a to orders-eu failed on attempt %d: topic orders-eu does not exist", attempt)
		got := (forwarder{}).Handle(config, batch)
		if want := []weir.Outcome{weir.DeadLetter(reason), weir.Retry(500), weir.Retry(500)}; !slices.Equal(got, want) {
			t.Fatalf("attempt %d: outcomes %v, want %v", attempt, got, want)
		}
		logs := weirtest.Logs()
		if want := (weirtest.LogLine{Level: weir.LevelWarn, Message: reason + "; dead-lettering"}); logs[len(logs)-1] != want {
			t.Fatalf("attempt %d: logs %v", attempt, logs)
		}
	}
	if logs := weirtest.Logs(); len(logs) != 2 {
		t.Fatalf("one publish a batch: %v", logs)
	}
	if published := weirtest.Published(); len(published) != 0 {
		t.Fatalf("published %+v", published)
	}
}

func TestDeadLetterAfterLeavesSuccessfulPublishesAlone(t *testing.T) {
	weirtest.Reset()
	got := (forwarder{}).Handle(`{"to":"orders-eu","dead_letter_after":1}`, []weir.Message{onAttempt(message("a", "1"), 9)})
	if !slices.Equal(got, []weir.Outcome{weir.Ack()}) {
		t.Fatalf("outcomes %v", got)
	}
	if len(weirtest.Published()) != 1 || len(weirtest.Logs()) != 0 {
		t.Fatalf("published %+v, logs %v", weirtest.Published(), weirtest.Logs())
	}
}

func TestABadConfigRetriesEverythingWithTheGroupBackoff(t *testing.T) {
	weirtest.Reset()
	batch := []weir.Message{message("a", "1"), message("b", "2")}
	got := (forwarder{}).Handle(`{"too":"x"}`, batch)
	if !slices.Equal(got, weir.Repeat(weir.RetryWithBackoff, 2)) {
		t.Fatalf("outcomes %v", got)
	}
	if len(weirtest.Published()) != 0 {
		t.Fatal("published with a bad config")
	}
}

func TestOnlyToIsRequired(t *testing.T) {
	full, err := parse(`{"to":"t"}`)
	if err != nil {
		t.Fatal(err)
	}
	bare, _ := parse("t")
	if !reflect.DeepEqual(full, bare) || full.uppercase || full.retryMs != 0 || full.deadLetterAfter != 0 {
		t.Fatalf("%+v vs %+v", full, bare)
	}
}

func TestDeadLetterAfterIsAnAttemptFrom1(t *testing.T) {
	parsed, err := parse(`{"to":"t","dead_letter_after":3}`)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.deadLetterAfter != 3 || parsed.givesUpOn(2) || !parsed.givesUpOn(3) || !parsed.givesUpOn(4) {
		t.Fatalf("%+v", parsed)
	}
	null, err := parse(`{"to":"t","dead_letter_after":null}`)
	if bare, _ := parse("t"); err != nil || !reflect.DeepEqual(null, bare) || null.givesUpOn(math.MaxUint32) {
		t.Fatalf("null is absent: %+v, %v", null, err)
	}
}

func TestBadConfigsAreRefused(t *testing.T) {
	for _, config := range []string{
		"",
		`{"to":" "}`,
		`{"to":"t","upercase":true}`,
		`{"to":"t","retry_ms":-1}`,
		`{"to":"t","dead_letter_after":0}`,
		`{"to":"t","dead_letter_after":-1}`,
		`{"to":"t","dead_letter_after":1.5}`,
		`{"to":"t","dead_letter_after":"3"}`,
		`{"to":"t","dead_letter_after":true}`,
		`{"to":"t","dead_letter_after":4294967296}`,
		`{"TO":"t"}`,
		`{"to":null}`,
		`{"to":"t","uppercase":null}`,
		`{"to":"t"} x`,
		`{"tag":"x"}`,
	} {
		if _, err := parse(config); err == nil {
			t.Errorf("accepted %s", config)
		}
	}
	if _, err := parse(`{"to":"t","tag":null,"origin_property":null}`); err != nil {
		t.Errorf("optional fields may be null: %v", err)
	}
}

func TestAppliesEveryChange(t *testing.T) {
	config, err := parse(`{"to":"eu","add_properties":{"region":"eu","kind":"new"},
		"remove_properties":["internal"],"tag":"fwd","uppercase":true,
		"origin_property":"from"}`)
	if err != nil {
		t.Fatal(err)
	}
	out := forward(config, weir.Message{
		ID:           "m-1",
		Keys:         []string{"k"},
		Tag:          weir.String("old"),
		MessageGroup: weir.String("g"),
		Properties:   []weir.Property{{Name: "kind", Value: "old"}, {Name: "internal", Value: "x"}},
		Body:         []byte("grüße"),
	})
	if out.Topic != "eu" || !slices.Equal(out.Keys, []string{"k"}) || *out.Tag != "fwd" || *out.MessageGroup != "g" {
		t.Fatalf("%+v", out)
	}
	want := []weir.Property{{Name: "kind", Value: "new"}, {Name: "region", Value: "eu"}, {Name: "from", Value: "m-1"}}
	if !slices.Equal(out.Properties, want) {
		t.Fatalf("properties %v", out.Properties)
	}
	if string(out.Body) != "GRÜSSE" {
		t.Fatalf("body %q", out.Body)
	}
}

func TestBinaryBodiesPassUnchanged(t *testing.T) {
	config, _ := parse(`{"to":"t","uppercase":true}`)
	if body := forward(config, weir.Message{Body: []byte{0xff, 'a'}}).Body; !slices.Equal(body, []byte{0xff, 'a'}) {
		t.Fatalf("body %v", body)
	}
}
