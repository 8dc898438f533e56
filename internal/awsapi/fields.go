package awsapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/model/smithy"
)

// field is one member of a generated structure, as its tags describe it:
//
//	json:"Name,omitempty" cbor:"Name,omitempty"
//	location:"uri|querystring|header|headers|statusCode" locationName:"X"  (restJson1)
//	payload:"true"                                                        (restJson1)
//	query:"Name" xml:"Name" flattened:"true"                               (awsQuery)
type field struct {
	index        []int
	name         string // member name
	queryName    string
	xmlName      string
	flattened    bool
	location     string
	locationName string
	payload      bool
	required     bool
	typ          reflect.Type
}

var fieldCache sync.Map // reflect.Type -> []field

// fieldsOf returns the members of struct type t.
func fieldsOf(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name := tagName(sf.Tag.Get("json"))
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f := field{
			index:        sf.Index,
			name:         name,
			queryName:    tagName(sf.Tag.Get("query")),
			xmlName:      tagName(sf.Tag.Get("xml")),
			flattened:    sf.Tag.Get("flattened") == "true",
			location:     sf.Tag.Get("location"),
			locationName: sf.Tag.Get("locationName"),
			payload:      sf.Tag.Get("payload") == "true",
			required:     sf.Tag.Get("required") == "true",
			typ:          sf.Type,
		}
		if f.queryName == "" {
			f.queryName = name
		}
		if f.xmlName == "" {
			f.xmlName = f.queryName
		}
		if f.locationName == "" {
			f.locationName = name
		}
		fs = append(fs, f)
	}
	fieldCache.Store(t, fs)
	return fs
}

// fillRequired makes every required list or map member of v (recursively)
// non-nil, so that it is written as [] or {} rather than left out or null:
// clients read resp["RuleSets"] without checking, as AWS always sends it.
// The generator leaves omitempty off these members.
func fillRequired(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			fillRequired(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for _, f := range fieldsOf(v.Type()) {
			fv := v.FieldByIndex(f.index)
			if f.required && fv.IsValid() && fv.CanSet() {
				switch {
				case fv.Kind() == reflect.Slice && fv.IsNil() && fv.Type() != bytesType:
					fv.Set(reflect.MakeSlice(fv.Type(), 0, 0))
				case fv.Kind() == reflect.Map && fv.IsNil():
					fv.Set(reflect.MakeMap(fv.Type()))
				}
			}
			fillRequired(fv)
		}
	case reflect.Slice:
		if v.Type() == bytesType {
			return
		}
		for i := 0; i < v.Len(); i++ {
			fillRequired(v.Index(i))
		}
	case reflect.Map:
		// Map values are not addressable: fill a copy and store it back.
		if v.Type().Elem().Kind() != reflect.Struct {
			for _, k := range v.MapKeys() {
				fillRequired(v.MapIndex(k))
			}
			return
		}
		for _, k := range v.MapKeys() {
			c := reflect.New(v.Type().Elem()).Elem()
			c.Set(v.MapIndex(k))
			fillRequired(c)
			v.SetMapIndex(k, c)
		}
	}
}

func tagName(tag string) string {
	n, _, _ := strings.Cut(tag, ",")
	return n
}

var (
	timeType  = reflect.TypeFor[smithy.Time]()
	bytesType = reflect.TypeFor[[]byte]()
)

// timestamp formats of the text bindings.
type tsFormat int

const (
	tsDateTime tsFormat = iota // RFC 3339 (query strings, labels, awsQuery)
	tsHTTPDate                 // RFC 7231 IMF-fixdate (headers)
)

// setText parses s into v, a settable scalar (or pointer to one) of a
// generated structure.
func setText(v reflect.Value, s string, ts tsFormat) error {
	if v.Kind() == reflect.Pointer {
		nv := reflect.New(v.Type().Elem())
		if err := setText(nv.Elem(), s, ts); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	}
	if v.Type() == timeType {
		t, err := parseTimestamp(s, ts)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(smithy.Time{Time: t}))
		return nil
	}
	if v.Type() == bytesType {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("%q is not base64", s)
		}
		v.SetBytes(b)
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	case reflect.Bool:
		switch s {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return fmt.Errorf("%q is not a boolean", s)
		}
	default:
		return fmt.Errorf("cannot bind text to %v", v.Type())
	}
	return nil
}

func parseTimestamp(s string, ts tsFormat) (time.Time, error) {
	if ts == tsHTTPDate {
		if t, err := http.ParseTime(s); err == nil {
			return t.UTC(), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", s)
}

// formatText renders a scalar (not nil) for a text binding.
func formatText(v reflect.Value, ts tsFormat) string {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Type() == timeType {
		t := v.Interface().(smithy.Time)
		if ts == tsHTTPDate {
			return t.UTC().Format(http.TimeFormat)
		}
		b, _ := t.MarshalText()
		return string(b)
	}
	if v.Type() == bytesType {
		return base64.StdEncoding.EncodeToString(v.Bytes())
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, v.Type().Bits())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	}
	return fmt.Sprint(v.Interface())
}
