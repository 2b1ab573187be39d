package main

import (
	"reflect"
	"testing"

	"weir"
	weirtest "weir/testing"
)

func key(t *testing.T, config, body string) (string, bool) {
	t.Helper()
	return jsonDedup{}.DedupKey(config, weir.Message{Body: []byte(body)})
}

func wantKey(t *testing.T, config, body, want string) {
	t.Helper()
	if got, ok := key(t, config, body); !ok || got != want {
		t.Errorf("key of %s under %s: %q, %v; want %q", body, config, got, ok, want)
	}
}

func wantNoKey(t *testing.T, config, body string) {
	t.Helper()
	if got, ok := key(t, config, body); ok {
		t.Errorf("key of %s under %s: %q; want none", body, config, got)
	}
}

func TestABarePathNamesTheField(t *testing.T) {
	wantKey(t, "order.id", `{"order":{"id":"A-17","total":3}}`, "A-17")
}

func TestAJSONConfigNamesTheField(t *testing.T) {
	wantKey(t, `{"field":"order.id"}`, `{"order":{"id":17}}`, "17")
}

func TestSeveralFieldsMakeOneKey(t *testing.T) {
	config := `{"fields":["tenant","order.id"]}`
	wantKey(t, config, `{"tenant":"t1","order":{"id":9}}`, "t1\u001f9")
	wantNoKey(t, config, `{"tenant":"t1"}`)
}

func TestNonJSONBodiesAndMissingFieldsHaveNoKey(t *testing.T) {
	wantNoKey(t, "id", "not json")
	wantNoKey(t, "id", `{"other":1}`)
	wantNoKey(t, "id", `{"id":null}`)
	wantNoKey(t, "id", "[1,2]")
	wantNoKey(t, "id", `{"id":1} {}`)
	wantNoKey(t, "id", "{\"id\":\"\xff\"}")
}

func TestArrayIndicesAndJSONPointersReachIntoArrays(t *testing.T) {
	body := `{"items":[{"sku":"x"},{"sku":"y"}]}`
	wantKey(t, "items.1.sku", body, "y")
	wantKey(t, "/items/0/sku", body, "x")
	wantKey(t, "items.+1.sku", body, "y")
	wantNoKey(t, "items.-1.sku", body)
}

func TestABadConfigGivesNoKeysAndLogsOnce(t *testing.T) {
	weirtest.Reset()
	wantNoKey(t, "{not json", `{"id":1}`)
	wantNoKey(t, "{not json", `{"id":1}`)
	if logs := weirtest.Logs(); len(logs) != 1 {
		t.Fatalf("logs %v", logs)
	}
}

func TestTheFormsAgree(t *testing.T) {
	bare, err := parse("order.id")
	if err != nil {
		t.Fatal(err)
	}
	for _, config := range []string{`{"field":"order.id"}`, ` {"fields":["order.id"]} `, "/order/id"} {
		if parsed, err := parse(config); err != nil || !reflect.DeepEqual(parsed, bare) {
			t.Errorf("%s: %v, %v", config, parsed, err)
		}
	}
}

func TestBadConfigsAreRefused(t *testing.T) {
	for _, config := range []string{"", `{"fields":[]}`, `{"field":"a","fields":["b"]}`, `{"feld":"a"}`, "a..b", `{"Field":"a"}`} {
		if _, err := parse(config); err == nil {
			t.Errorf("accepted %s", config)
		}
	}
}

func TestPointersUnescapeSlashesAndTildes(t *testing.T) {
	body := `{"a/b": {"c~d": 1}, "x.y": 2}`
	wantKey(t, "/a~1b/c~0d", body, "1")
	wantKey(t, "/x.y", body, "2")
	wantNoKey(t, "x.y", body)
}

func TestValuesBecomeKeysAsInTheRustFilter(t *testing.T) {
	for body, want := range map[string]string{
		`{"v":"a"}`:                   "a",
		`{"v":1.5}`:                   "1.5",
		`{"v":true}`:                  "true",
		`{"v":{"b":1,"a":2}}`:         `{"a":2,"b":1}`,
		`{"v":-0}`:                    "-0.0",
		`{"v":0}`:                     "0",
		`{"v":-3}`:                    "-3",
		`{"v":1.0}`:                   "1.0",
		`{"v":1e3}`:                   "1000.0",
		`{"v":1e20}`:                  "1e+20",
		`{"v":100000000000000000000}`: "1e+20",
		`{"v":18446744073709551615}`:  "18446744073709551615",
		`{"v":-9223372036854775808}`:  "-9223372036854775808",
		`{"v":0.00001}`:               "0.00001",
		`{"v":0.000001}`:              "1e-6",
		`{"v":1e16}`:                  "1e+16",
		`{"v":1e15}`:                  "1000000000000000.0",
		`{"v":12345678901234567}`:     "12345678901234567",
		`{"v":0.0001}`:                "0.0001",
		`{"v":1.5e-7}`:                "1.5e-7",
		`{"v":-0.0}`:                  "-0.0",
		`{"v":123456789012345678.5}`:  "1.2345678901234568e+17",
		`{"v":[1,"a\"<\u2028",null]}`: "[1,\"a\\\"<\u2028\",null]",
		`{"v":"\u0001"}`:              "\u0001",
		`{"v":["\u0001\n"]}`:          `["\u0001\n"]`,
	} {
		wantKey(t, "v", body, want)
	}
}
