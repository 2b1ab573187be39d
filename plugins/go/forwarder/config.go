package main

// The binding's config: where to forward, and what to change on the way.
//
// Either a bare topic name (`orders-eu`), or a JSON object:
//
//	{
//	  "to": "orders-eu",
//	  "add_properties": {"region": "eu"},
//	  "remove_properties": ["internal"],
//	  "tag": "eu",
//	  "uppercase": false,
//	  "origin_property": "forwarded-from",
//	  "retry_ms": 0,
//	  "dead_letter_after": 5
//	}
//
// Only `to` is required. Unknown fields, fields of the wrong type and `null` for a field
// that is not optional (only `tag`, `origin_property` and `dead_letter_after` are) are
// refused, field names are case-sensitive: the same rules as the Rust forwarder's.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"weir"
)

// config is the parsed config.
type config struct {
	// to is the topic to publish to.
	to string
	// addProperties are properties to set, replacing values of the same name, applied
	// in the order of their names.
	addProperties map[string]string
	// removeProperties are properties to drop.
	removeProperties []string
	// tag replaces the message's tag (nil: keep it).
	tag *string
	// uppercase upper-cases the body, when it is UTF-8 text.
	uppercase bool
	// originProperty names a property recording the original message's id (nil: none).
	originProperty *string
	// retryMs is how long to wait before retrying after a failed publish (0: the
	// group's backoff).
	retryMs uint64
	// deadLetterAfter is the delivery attempt from which a failed publish dead-letters
	// the message instead of retrying it (0: never, the group's maximum attempts
	// decide).
	deadLetterAfter uint32
}

// givesUpOn answers whether a failed publish on delivery attempt gives the message up.
func (c config) givesUpOn(attempt uint32) bool {
	return c.deadLetterAfter != 0 && attempt >= c.deadLetterAfter
}

// parse parses a config string.
func parse(text string) (config, error) {
	text = strings.TrimSpace(text)
	var parsed config
	if strings.HasPrefix(text, "{") {
		fields, err := decodeObject(text)
		if err != nil {
			return config{}, err
		}
		if _, ok := fields["to"]; !ok {
			return config{}, errors.New("missing field `to`")
		}
		for name, raw := range fields {
			if err := parsed.set(name, raw); err != nil {
				return config{}, err
			}
		}
	} else {
		parsed.to = text
	}
	if strings.TrimSpace(parsed.to) == "" {
		return config{}, errors.New("`to` must name a topic")
	}
	return parsed, nil
}

// set decodes the field called name.
func (c *config) set(name string, raw json.RawMessage) error {
	optional := name == "tag" || name == "origin_property" || name == "dead_letter_after"
	if bytes.Equal(raw, []byte("null")) {
		if optional {
			return nil
		}
		return fmt.Errorf("`%s` must not be null", name)
	}
	var target any
	switch name {
	case "to":
		target = &c.to
	case "add_properties":
		target = &c.addProperties
	case "remove_properties":
		target = &c.removeProperties
	case "tag":
		target = &c.tag
	case "uppercase":
		target = &c.uppercase
	case "origin_property":
		target = &c.originProperty
	case "retry_ms":
		target = &c.retryMs
	case "dead_letter_after":
		target = &c.deadLetterAfter
	default:
		return fmt.Errorf("unknown field `%s`, expected one of `to`, `add_properties`, `remove_properties`, `tag`, `uppercase`, `origin_property`, `retry_ms`, `dead_letter_after`", name)
	}
	if err := json.Unmarshal(raw, target); err != nil {
		return fmt.Errorf("`%s`: %v", name, err)
	}
	if name == "dead_letter_after" && c.deadLetterAfter == 0 {
		return errors.New("`dead_letter_after` must be a delivery attempt, 1 or more")
	}
	return nil
}

// decodeObject decodes one JSON object, and nothing after it, into its raw fields.
func decodeObject(text string) (map[string]json.RawMessage, error) {
	decoder := json.NewDecoder(strings.NewReader(text))
	var fields map[string]json.RawMessage
	if err := decoder.Decode(&fields); err != nil {
		return nil, err
	}
	if _, err := decoder.Token(); err != io.EOF {
		return nil, errors.New("trailing characters after the JSON object")
	}
	return fields, nil
}

// parsedConfig is a parse result, kept per instance.
type parsedConfig struct {
	config config
	err    error
}

var cache weir.ConfigCache[parsedConfig]

// parsed answers the parsed form of text from this instance's cache; an invalid config
// is logged the first time the instance sees it.
func parsed(text string) (config, error) {
	result := cache.Get(text, func(text string) parsedConfig {
		parsed, err := parse(text)
		if err != nil {
			weir.Logf(weir.LevelError, "forwarder: invalid config %q: %v; messages are retried", text, err)
		}
		return parsedConfig{parsed, err}
	})
	return result.config, result.err
}
