package main

// The binding's config: which fields make the dedup key.
//
// Accepted forms:
//
//   - a bare field path: `order.id` (or a JSON pointer, `/order/id`);
//   - a JSON object with one path, `{"field": "order.id"}`, or several,
//     `{"fields": ["tenant", "order.id"]}`.
//
// The broker calls the filter once per message with the same config, so the parsed form
// is kept per instance and parsed again only when the config string changes.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"weir"
)

// parse parses a config string into its field paths, at least one.
func parse(config string) ([]fieldPath, error) {
	config = strings.TrimSpace(config)
	var texts []string
	if strings.HasPrefix(config, "{") {
		field, fields, err := decodeConfig(config)
		if err != nil {
			return nil, err
		}
		switch {
		case field != nil && fields == nil:
			texts = []string{*field}
		case field == nil && len(fields) > 0:
			texts = fields
		default:
			return nil, errors.New("give exactly one of `field` and a non-empty `fields`")
		}
	} else {
		texts = []string{config}
	}
	paths := make([]fieldPath, len(texts))
	for i, text := range texts {
		path, err := parsePath(text)
		if err != nil {
			return nil, err
		}
		paths[i] = path
	}
	return paths, nil
}

// decodeConfig decodes the JSON form: `field` and `fields` (each optional, null being
// absent), nothing else, with case-sensitive names, and nothing after the object.
func decodeConfig(config string) (field *string, fields []string, err error) {
	decoder := json.NewDecoder(strings.NewReader(config))
	var raw map[string]json.RawMessage
	if err := decoder.Decode(&raw); err != nil {
		return nil, nil, err
	}
	if _, err := decoder.Token(); err != io.EOF {
		return nil, nil, errors.New("trailing characters after the JSON object")
	}
	for name, value := range raw {
		if bytes.Equal(value, []byte("null")) {
			continue
		}
		switch name {
		case "field":
			err = json.Unmarshal(value, &field)
		case "fields":
			err = json.Unmarshal(value, &fields)
			if err == nil && fields == nil {
				fields = []string{}
			}
		default:
			return nil, nil, fmt.Errorf("unknown field `%s`, expected `field` or `fields`", name)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("`%s`: %v", name, err)
		}
	}
	return field, fields, nil
}

// parsedConfig is a parse result, kept per instance.
type parsedConfig struct {
	paths []fieldPath
	err   error
}

var cache weir.ConfigCache[parsedConfig]

// fieldsOf answers the field paths of config, or false when it is invalid (logged the
// first time this instance sees it).
func fieldsOf(config string) ([]fieldPath, bool) {
	result := cache.Get(config, func(config string) parsedConfig {
		paths, err := parse(config)
		if err != nil {
			weir.Logf(weir.LevelError, "json-dedup: invalid config %q: %v; no message gets a key", config, err)
		}
		return parsedConfig{paths, err}
	})
	return result.paths, result.err == nil
}
