package main

import (
	"slices"
	"testing"

	"weir"
	weirtest "weir/testing"
)

func TestAcksEverythingAndCountsWhenAsked(t *testing.T) {
	weirtest.Reset()
	batch := make([]weir.Message, 3)
	if got := (ackAll{}).Handle("", batch); !slices.Equal(got, weir.Repeat(weir.Ack(), 3)) {
		t.Fatalf("outcomes %v", got)
	}
	if _, ok := weir.StateGet("acked"); ok {
		t.Fatal("counted without a key")
	}
	ackAll{}.Handle("acked", batch)
	ackAll{}.Handle("acked", batch)
	if value, _ := weir.StateGet("acked"); string(value) != "6" {
		t.Fatalf("counter %q", value)
	}
}
