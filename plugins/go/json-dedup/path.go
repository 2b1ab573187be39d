package main

// Field paths into a JSON document, and how the value found becomes a key.
//
// A path is either dot-separated names, `order.id`, where a segment made of digits
// indexes an array (`items.0.sku`), or a JSON pointer (RFC 6901), `/order/id`, for names
// that contain dots. A string value is the key as it is; a number or boolean is its JSON
// text; an object or array is its compact JSON text (object keys sorted), so equal
// values give equal keys; `null` gives no key.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// fieldPath is a parsed field path: the segments from the document's root.
type fieldPath []string

// parsePath parses a dotted path or a JSON pointer.
func parsePath(path string) (fieldPath, error) {
	var segments []string
	if pointer, ok := strings.CutPrefix(path, "/"); ok {
		for _, segment := range strings.Split(pointer, "/") {
			segments = append(segments, strings.ReplaceAll(strings.ReplaceAll(segment, "~1", "/"), "~0", "~"))
		}
	} else {
		segments = strings.Split(path, ".")
		for _, segment := range segments {
			if segment == "" {
				return nil, fmt.Errorf("%q is not a field path such as `order.id`", path)
			}
		}
	}
	if path == "" {
		return nil, fmt.Errorf("%q is not a field path such as `order.id`", path)
	}
	return segments, nil
}

// lookup answers the value at this path in document, if there is one.
func (p fieldPath) lookup(document any) (any, bool) {
	value := document
	for _, segment := range p {
		switch node := value.(type) {
		case map[string]any:
			next, ok := node[segment]
			if !ok {
				return nil, false
			}
			value = next
		case []any:
			index, ok := arrayIndex(segment)
			if !ok || index >= uint64(len(node)) {
				return nil, false
			}
			value = node[index]
		default:
			return nil, false
		}
	}
	return value, true
}

// arrayIndex parses a segment as an array index the way Rust parses a usize: decimal
// digits, optionally after one `+`.
func arrayIndex(segment string) (uint64, bool) {
	digits := strings.TrimPrefix(segment, "+")
	if digits == "" || digits[0] == '-' || digits[0] == '+' {
		return 0, false
	}
	index, err := strconv.ParseUint(digits, 10, 64)
	return index, err == nil
}

// decodeDocument decodes a body as one JSON document (valid UTF-8, nothing after it).
// Numbers stay json.Number, so that their key text follows the Rust filter's.
func decodeDocument(body []byte) (any, bool) {
	if !utf8.Valid(body) {
		return nil, false
	}
	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.UseNumber()
	var document any
	if decoder.Decode(&document) != nil {
		return nil, false
	}
	if _, err := decoder.Token(); err != io.EOF {
		return nil, false
	}
	return document, true
}

// keyText answers the key text of a value (false for null).
func keyText(value any) (string, bool) {
	switch value := value.(type) {
	case nil:
		return "", false
	case string:
		return value, true
	default:
		var text strings.Builder
		writeJSON(&text, value)
		return text.String(), true
	}
}
