package handlebars

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Object is a JSON object that keeps its keys in document order, so that
// {{#each}} over an object visits keys as JavaScript would.
type Object struct {
	Keys   []string
	Values map[string]any
}

// Get returns the value of key.
func (o *Object) Get(key string) (any, bool) {
	v, ok := o.Values[key]
	return v, ok
}

// maxDataDepth bounds the nesting of template data.
const maxDataDepth = 100

// ParseData decodes JSON template data: objects become *Object, arrays
// []any, numbers json.Number, and the rest string, bool or nil.
func ParseData(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDataDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("unexpected end of JSON input")
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &Object{Values: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string: %v", kt)
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := o.Values[k]; !dup {
					o.Keys = append(o.Keys, k)
				}
				o.Values[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return a, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// field looks key up in v: an object's member, an array's index or its
// length. ok is false when v has no such member.
func field(v any, key string) (any, bool) {
	switch t := v.(type) {
	case *Object:
		return t.Get(key)
	case map[string]any:
		r, ok := t[key]
		return r, ok
	case []any:
		if key == "length" {
			return json.Number(strconv.Itoa(len(t))), true
		}
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(t) {
			return t[i], true
		}
	case []string:
		if key == "length" {
			return json.Number(strconv.Itoa(len(t))), true
		}
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(t) {
			return t[i], true
		}
	case string:
		if key == "length" {
			return json.Number(strconv.Itoa(len([]rune(t)))), true
		}
	}
	return nil, false
}

// keysOf returns an object's keys in order (sorted for a Go map).
func keysOf(v any) ([]string, bool) {
	switch t := v.(type) {
	case *Object:
		return jsKeyOrder(t.Keys), true
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys, true
	}
	return nil, false
}

// jsKeyOrder orders keys as JavaScript enumerates an object's own
// properties: array indexes ascending first, then the others in insertion
// order (ECMA-262 OrdinaryOwnPropertyKeys).
func jsKeyOrder(keys []string) []string {
	var idx, rest []string
	for _, k := range keys {
		if isArrayIndex(k) {
			idx = append(idx, k)
		} else {
			rest = append(rest, k)
		}
	}
	if len(idx) == 0 {
		return keys
	}
	sort.Slice(idx, func(i, j int) bool {
		a, _ := strconv.ParseUint(idx[i], 10, 32)
		b, _ := strconv.ParseUint(idx[j], 10, 32)
		return a < b
	})
	return append(idx, rest...)
}

// isArrayIndex: the canonical decimal form of an integer below 2^32-1.
func isArrayIndex(k string) bool {
	if k == "" || (len(k) > 1 && k[0] == '0') {
		return false
	}
	n, err := strconv.ParseUint(k, 10, 32)
	return err == nil && n < 1<<32-1
}

func list(v any) ([]any, bool) {
	switch t := v.(type) {
	case []any:
		return t, true
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, true
	}
	return nil, false
}

func number(v any) (float64, bool) {
	switch t := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		return f, err == nil
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	}
	return 0, false
}

// truthy is JavaScript's truthiness, which {{#if}} uses together with
// isEmpty: false, null, undefined, "", 0, NaN and [] are false.
func truthy(v any, includeZero bool) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	}
	if f, ok := number(v); ok {
		return (f != 0 || includeZero) && !math.IsNaN(f)
	}
	if l, ok := list(v); ok {
		return len(l) > 0
	}
	return true
}

// isEmpty is Handlebars' Utils.isEmpty: what {{#with}} skips.
func isEmpty(v any) bool {
	if l, ok := list(v); ok {
		return len(l) == 0
	}
	if f, ok := number(v); ok {
		return math.IsNaN(f)
	}
	return !truthy(v, true)
}

// toString is JavaScript's String(v), as Handlebars prints values.
func toString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		if t {
			return "true"
		}
		return "false"
	case *Object, map[string]any:
		return "[object Object]"
	}
	if f, ok := number(v); ok {
		return jsNumber(f)
	}
	if l, ok := list(v); ok {
		parts := make([]string, len(l))
		for i, e := range l {
			if e != nil {
				parts[i] = toString(e)
			}
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// jsNumber formats f as JavaScript's Number.prototype.toString does.
func jsNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	a := math.Abs(f)
	if a >= 1e21 || a < 1e-6 {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes 1e+21 and 1e-07; JavaScript 1e+21 and 1e-7.
		mant, exp, _ := strings.Cut(s, "e")
		sign := exp[0]
		exp = strings.TrimLeft(exp[1:], "0")
		return mant + "e" + string(sign) + exp
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
