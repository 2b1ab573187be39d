// Command json-dedup is a Weir dedup filter: the dedup key of a message is the value of
// one or more fields of its JSON body, named by the binding's config. It is the Go twin
// of plugins/json-dedup, with the same config and the same keys.
//
//   - config.go: the binding's config string, parsed and cached;
//   - path.go: field paths, and how a value becomes a key (keytext.go: its JSON text).
//
// A body that is not JSON, or lacks a field, has no key: the broker never treats it as a
// duplicate. A config that does not parse is logged once per instance and gives no keys
// either, so a mistake in a binding lets messages through rather than dropping them.
package main

import (
	"strings"

	"weir"
)

// jsonDedup is the dedup filter.
type jsonDedup struct{}

func (jsonDedup) DedupKey(config string, message weir.Message) (string, bool) {
	paths, ok := fieldsOf(config)
	if !ok {
		return "", false
	}
	return keyOf(paths, message.Body)
}

// keyOf answers the key of body under paths: the field's value, or the values of several
// fields joined by U+001F (the unit separator, which JSON strings escape, so that
// ["a","b|c"] and ["a|b","c"] never collide).
func keyOf(paths []fieldPath, body []byte) (string, bool) {
	document, ok := decodeDocument(body)
	if !ok {
		return "", false
	}
	var key strings.Builder
	for i, path := range paths {
		if i > 0 {
			key.WriteRune('\u001f')
		}
		value, ok := path.lookup(document)
		if !ok {
			return "", false
		}
		text, ok := keyText(value)
		if !ok {
			return "", false
		}
		key.WriteString(text)
	}
	return key.String(), true
}

func init() { weir.ExportDedupFilter(jsonDedup{}) }

func main() {}
