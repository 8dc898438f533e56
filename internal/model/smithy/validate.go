package smithy

import (
	"cmp"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the helpers that generated Validate methods call. Each
// helper appends at most one Violation phrased as AWS phrases it; the value
// is rendered only when a constraint fails.

const (
	maxRenderedRunes     = 256 // longer values are cut and end in "..."
	sensitivePlaceholder = "'***'"
	renderedNull         = "null"

	constraintNotNull    = "Member must not be null"
	constraintExactlyOne = "Member must have exactly one member set"
	constraintLengthGE   = "Member must have length greater than or equal to "
	constraintLengthLE   = "Member must have length less than or equal to "
	constraintValueGE    = "Member must have value greater than or equal to "
	constraintValueLE    = "Member must have value less than or equal to "
	constraintPattern    = "Member must satisfy regular expression pattern: "
	constraintEnum       = "Member must satisfy enum value set: "
	constraintMapKeys    = "Map keys must satisfy constraint: "
)

// Add appends one violation.
func (e *ValidationError) Add(path, value, constraint string) {
	e.Violations = append(e.Violations, Violation{Path: path, Value: value, Constraint: constraint})
}

// Required records a missing required member.
func (e *ValidationError) Required(path string) {
	e.Add(path, renderedNull, constraintNotNull)
}

// MemberPath joins a parent path and a lower-camel member name:
// ("", "ruleSetName") is "ruleSetName", ("rules.1.member", "name") is
// "rules.1.member.name".
func MemberPath(parent, member string) string {
	if parent == "" {
		return member
	}
	return parent + "." + member
}

// ElemPath is the path of element i (0-based) of a list: "rules.1.member"
// for the first element, as AWS numbers them from 1.
func ElemPath(parent string, i int) string {
	return parent + "." + strconv.Itoa(i+1) + ".member"
}

// KeyPath is the path of the value at key in a map: "tags.env.member".
func KeyPath(parent, key string) string {
	return parent + "." + key + ".member"
}

// SortedKeys returns the keys of m in order, so that map violations come
// out in a stable order.
func SortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// StringMinLen checks that s has at least min characters (Unicode code points).
func (e *ValidationError) StringMinLen(path, s string, min int, sensitive bool) {
	if utf8.RuneCountInString(s) < min {
		e.Add(path, Render(s, sensitive), constraintLengthGE+strconv.Itoa(min))
	}
}

// StringMaxLen checks that s has at most max characters (Unicode code points).
func (e *ValidationError) StringMaxLen(path, s string, max int, sensitive bool) {
	if utf8.RuneCountInString(s) > max {
		e.Add(path, Render(s, sensitive), constraintLengthLE+strconv.Itoa(max))
	}
}

// StringPattern checks that re (compiled from the model's pattern, anchored
// to match the whole value) matches s. pattern is the model's text, which
// the message quotes.
func (e *ValidationError) StringPattern(path, s string, re *regexp.Regexp, pattern string, sensitive bool) {
	if !re.MatchString(s) {
		e.Add(path, Render(s, sensitive), constraintPattern+pattern)
	}
}

// Enum checks that x is one of values.
func Enum[T ~string](e *ValidationError, path string, x T, values []T, sensitive bool) {
	if slices.Contains(values, x) {
		return
	}
	var b strings.Builder
	b.WriteString(constraintEnum + "[")
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(v))
	}
	b.WriteString("]")
	e.Add(path, Render(string(x), sensitive), b.String())
}

// IntMin checks n >= min.
func (e *ValidationError) IntMin(path string, n, min int64) {
	if n < min {
		e.Add(path, strconv.FormatInt(n, 10), constraintValueGE+strconv.FormatInt(min, 10))
	}
}

// IntMax checks n <= max.
func (e *ValidationError) IntMax(path string, n, max int64) {
	if n > max {
		e.Add(path, strconv.FormatInt(n, 10), constraintValueLE+strconv.FormatInt(max, 10))
	}
}

// FloatMin checks f >= min; bound is min as the model writes it.
func (e *ValidationError) FloatMin(path string, f, min float64, bound string) {
	if f < min {
		e.Add(path, formatFloat(f), constraintValueGE+bound)
	}
}

// FloatMax checks f <= max; bound is max as the model writes it.
func (e *ValidationError) FloatMax(path string, f, max float64, bound string) {
	if f > max {
		e.Add(path, formatFloat(f), constraintValueLE+bound)
	}
}

// MinLen checks that a list, map or blob x (of length n) has at least min
// elements or bytes.
func (e *ValidationError) MinLen(path string, x any, n, min int, sensitive bool) {
	if n < min {
		e.Add(path, Render(x, sensitive), constraintLengthGE+strconv.Itoa(min))
	}
}

// MaxLen checks that a list, map or blob x (of length n) has at most max
// elements or bytes.
func (e *ValidationError) MaxLen(path string, x any, n, max int, sensitive bool) {
	if n > max {
		e.Add(path, Render(x, sensitive), constraintLengthLE+strconv.Itoa(max))
	}
}

// ExactlyOne checks that exactly one member of a union is set. names are
// the member names in model order and set tells, in the same order, which
// are non-nil. The value names the members that are set: '{Drop, Relay}'.
func (e *ValidationError) ExactlyOne(path string, names []string, set ...bool) {
	var on []string
	for i, ok := range set {
		if ok {
			on = append(on, names[i])
		}
	}
	if len(on) == 1 {
		return
	}
	e.Add(path, "'{"+strings.Join(on, ", ")+"}'", constraintExactlyOne)
}

// MapKey reports the violations that key collected in keyErrs as one
// violation at the map's path, as AWS does:
//
//	Value 'k' at 'context' failed to satisfy constraint: Map keys must
//	satisfy constraint: [Member must have length less than or equal to 100]
func (e *ValidationError) MapKey(path, key string, keyErrs *ValidationError, sensitive bool) {
	if keyErrs == nil || len(keyErrs.Violations) == 0 {
		return
	}
	cs := make([]string, len(keyErrs.Violations))
	for i, v := range keyErrs.Violations {
		cs[i] = v.Constraint
	}
	e.Add(path, Render(key, sensitive), constraintMapKeys+"["+strings.Join(cs, ", ")+"]")
}

// Render prints a value as AWS prints it in a violation: null, numbers bare,
// everything else quoted ('abc', '[a, b]', '{Name=x}'); values longer than
// 256 characters are cut. Sensitive values print as '***', and so do the
// fields of nested structures tagged sensitive:"true".
func Render(x any, sensitive bool) string {
	rv := reflect.ValueOf(x)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return renderedNull
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return renderedNull
	}
	if sensitive {
		return sensitivePlaceholder
	}
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Float32, reflect.Float64:
		return formatFloat(rv.Float())
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	}
	var b strings.Builder
	renderInner(&b, rv)
	s := b.String()
	if utf8.RuneCountInString(s) > maxRenderedRunes {
		r := []rune(s)
		s = string(r[:maxRenderedRunes]) + "..."
	}
	return "'" + s + "'"
}

func renderInner(b *strings.Builder, rv reflect.Value) {
	if b.Len() > 4*maxRenderedRunes { // enough to cut from
		return
	}
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			b.WriteString(renderedNull)
			return
		}
		rv = rv.Elem()
	}
	if t, ok := rv.Interface().(Time); ok {
		txt, _ := t.MarshalText()
		b.Write(txt)
		return
	}
	switch rv.Kind() {
	case reflect.String:
		b.WriteString(rv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(rv.Int(), 10))
	case reflect.Float32, reflect.Float64:
		b.WriteString(formatFloat(rv.Float()))
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(rv.Bool()))
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 { // blob
			b.WriteString("<" + strconv.Itoa(rv.Len()) + " bytes>")
			return
		}
		b.WriteByte('[')
		for i := range rv.Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			renderInner(b, rv.Index(i))
		}
		b.WriteByte(']')
	case reflect.Map:
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, c reflect.Value) int { return cmp.Compare(a.String(), c.String()) })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k.String())
			b.WriteByte('=')
			renderInner(b, rv.MapIndex(k))
		}
		b.WriteByte('}')
	case reflect.Struct:
		b.WriteByte('{')
		n := 0
		for i := range rv.NumField() {
			f := rv.Field(i)
			if !rv.Type().Field(i).IsExported() || f.IsZero() {
				continue
			}
			if n > 0 {
				b.WriteString(", ")
			}
			n++
			sf := rv.Type().Field(i)
			b.WriteString(sf.Name)
			b.WriteByte('=')
			if sf.Tag.Get("sensitive") == "true" {
				b.WriteString("***")
				continue
			}
			renderInner(b, f)
		}
		b.WriteByte('}')
	default:
		b.WriteString(rv.String())
	}
}

func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}
