//go:build wasip1

package weir

// The host services in the broker: calls of the generated imports of weir:plugin/host,
// converting between the SDK's types and the generated ones.

import (
	host "weir/internal/bindings/host"
	types "weir/internal/bindings/types"
	witTypes "weir/internal/wit/types"
)

func hostLog(level Level, message string) { host.Log(uint8(level), message) }

func hostNowMs() int64 { return host.NowMs() }

func hostStateGet(key string) ([]byte, bool) {
	value := host.StateGet(key)
	if value.IsNone() {
		return nil, false
	}
	return value.Some(), true
}

func hostStateSet(key string, value []byte, ttlMs uint64) error {
	if result := host.StateSet(key, value, ttlMs); result.IsErr() {
		return hostError(result.Err())
	}
	return nil
}

func hostStateDelete(key string) { host.StateDelete(key) }

func hostPublish(message Outgoing) (string, error) {
	result := host.Publish(types.Outgoing{
		Topic:        message.Topic,
		Keys:         message.Keys,
		Tag:          toOption(message.Tag),
		MessageGroup: toOption(message.MessageGroup),
		Properties:   toPairs(message.Properties),
		Body:         message.Body,
	})
	if result.IsErr() {
		return "", hostError(result.Err())
	}
	return result.Ok(), nil
}

func hostHTTPRequest(method, url string, headers []Header, body []byte) (Response, error) {
	pairs := make([]witTypes.Tuple2[string, string], len(headers))
	for i, header := range headers {
		pairs[i] = witTypes.Tuple2[string, string]{F0: header.Name, F1: header.Value}
	}
	result := host.HttpRequest(method, url, pairs, body)
	if result.IsErr() {
		return Response{}, hostError(result.Err())
	}
	answer := result.Ok()
	return Response{Status: answer.F0, Body: answer.F1}, nil
}

func toOption(s *string) witTypes.Option[string] {
	if s == nil {
		return witTypes.None[string]()
	}
	return witTypes.Some(*s)
}

func fromOption(option witTypes.Option[string]) *string {
	if option.IsNone() {
		return nil
	}
	return String(option.Some())
}

func toPairs(properties []Property) []witTypes.Tuple2[string, string] {
	pairs := make([]witTypes.Tuple2[string, string], len(properties))
	for i, property := range properties {
		pairs[i] = witTypes.Tuple2[string, string]{F0: property.Name, F1: property.Value}
	}
	return pairs
}

// fromWit converts a message the broker handed in. Its strings and bytes live in memory
// the bindings allocated for this call, owned by the Go heap: keeping them is safe.
func fromWit(message types.Message) Message {
	properties := make([]Property, len(message.Properties))
	for i, pair := range message.Properties {
		properties[i] = Property{Name: pair.F0, Value: pair.F1}
	}
	return Message{
		ID:           message.Id,
		Topic:        message.Topic,
		Queue:        message.Queue,
		Offset:       message.Offset,
		Keys:         message.Keys,
		Tag:          fromOption(message.Tag),
		MessageGroup: fromOption(message.MessageGroup),
		Properties:   properties,
		Body:         message.Body,
		BornMs:       message.BornMs,
		Attempt:      message.Attempt,
	}
}
