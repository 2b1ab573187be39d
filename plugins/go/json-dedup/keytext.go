package main

// The compact JSON text of a value, byte for byte as serde_json writes it in the Rust
// filter: object keys sorted, strings escaped only where JSON requires it (control
// characters, `"` and `\`), integers as written when they fit 64 bits, other numbers as
// the shortest text of their f64 (`1.0`, `1e+20`, `1.5e-7`), so both filters give a value
// the same key. (serde_json reads a few numbers with extreme exponents, such as
// -1.25e-300, one unit of the last place off; there the keys differ.)

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// writeJSON writes the compact JSON text of a decoded value.
func writeJSON(out *strings.Builder, value any) {
	switch value := value.(type) {
	case nil:
		out.WriteString("null")
	case bool:
		out.WriteString(strconv.FormatBool(value))
	case json.Number:
		out.WriteString(numberText(string(value)))
	case string:
		writeString(out, value)
	case []any:
		out.WriteByte('[')
		for i, item := range value {
			if i > 0 {
				out.WriteByte(',')
			}
			writeJSON(out, item)
		}
		out.WriteByte(']')
	case map[string]any:
		names := make([]string, 0, len(value))
		for name := range value {
			names = append(names, name)
		}
		sort.Strings(names)
		out.WriteByte('{')
		for i, name := range names {
			if i > 0 {
				out.WriteByte(',')
			}
			writeString(out, name)
			out.WriteByte(':')
			writeJSON(out, value[name])
		}
		out.WriteByte('}')
	}
}

func writeString(out *strings.Builder, text string) {
	out.WriteByte('"')
	for _, r := range text {
		switch r {
		case '"':
			out.WriteString(`\"`)
		case '\\':
			out.WriteString(`\\`)
		case '\b':
			out.WriteString(`\b`)
		case '\f':
			out.WriteString(`\f`)
		case '\n':
			out.WriteString(`\n`)
		case '\r':
			out.WriteString(`\r`)
		case '\t':
			out.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(out, `\u%04x`, r)
			} else {
				out.WriteRune(r)
			}
		}
	}
	out.WriteByte('"')
}

// numberText answers a JSON number's text as serde_json prints it: an integer literal
// that fits u64 or i64 as the integer, anything else as its f64.
func numberText(literal string) string {
	if !strings.ContainsAny(literal, ".eE") {
		if n, err := strconv.ParseUint(literal, 10, 64); err == nil {
			return strconv.FormatUint(n, 10)
		}
		if n, err := strconv.ParseInt(literal, 10, 64); err == nil && n != 0 {
			return strconv.FormatInt(n, 10)
		}
		// `-0` falls through: serde_json reads it as the float -0.0.
	}
	f, err := strconv.ParseFloat(literal, 64)
	if err != nil || math.IsInf(f, 0) {
		// serde_json refuses numbers out of f64's range; the document would not parse.
		return literal
	}
	return floatText(f)
}

// floatText formats f the way the ryu crate does: the shortest digits that read back as
// f, in plain notation when the decimal point falls within 16 digits (always with a
// fractional part), else in scientific notation (`1e+20`, `1.5e-7`).
func floatText(f float64) string {
	sign := ""
	if math.Signbit(f) {
		sign = "-"
		f = -f
	}
	if f == 0 {
		return sign + "0.0"
	}
	// d.ddde±x: the shortest digits, and the exponent of the first one.
	scientific := strconv.FormatFloat(f, 'e', -1, 64)
	mantissa, exponentText, _ := strings.Cut(scientific, "e")
	digits := strings.Replace(mantissa, ".", "", 1)
	exponent, _ := strconv.Atoi(exponentText)
	length := len(digits)
	point := exponent + 1 // digits before the decimal point
	k := point - length   // value = digits × 10^k
	switch {
	case k >= 0 && point <= 16:
		return sign + digits + strings.Repeat("0", k) + ".0"
	case point > 0 && point <= 16:
		return sign + digits[:point] + "." + digits[point:]
	case point > -5 && point <= 0:
		return sign + "0." + strings.Repeat("0", -point) + digits
	case length == 1:
		return sign + digits + exponentSuffix(point-1)
	default:
		return sign + digits[:1] + "." + digits[1:] + exponentSuffix(point-1)
	}
}

// exponentSuffix answers `e+20` or `e-7`.
func exponentSuffix(exponent int) string {
	if exponent < 0 {
		return "e" + strconv.Itoa(exponent)
	}
	return "e+" + strconv.Itoa(exponent)
}
