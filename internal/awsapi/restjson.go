package awsapi

// restJson1 (https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html):
// the operation is found by method and URI template; members are bound to
// URI labels, query parameters, headers and the status code, and the rest
// form the JSON body (or one member is the whole payload).

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
)

type segKind int

const (
	segLiteral segKind = iota
	segLabel
	segGreedy
)

type tmplSeg struct {
	kind  segKind
	value string // literal text or label name
}

// restRoute is the compiled URI template of one operation.
type restRoute struct {
	op     *operation
	method string
	segs   []tmplSeg
	// query holds literal query parameters of the template
	// ("/path?versions"): they must be present.
	query map[string]string
}

func compileRoute(op *operation) (*restRoute, error) {
	uri := op.model.RequestURI
	if uri == "" || uri[0] != '/' {
		return nil, fmt.Errorf("operation %s: request URI %q", op.model.Name, uri)
	}
	path, rawQuery, _ := strings.Cut(uri, "?")
	rt := &restRoute{op: op, method: op.model.Method}
	if rt.method == "" {
		rt.method = http.MethodPost
	}
	greedy := false
	for _, s := range splitPath(path) {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			if greedy {
				return nil, fmt.Errorf("operation %s: two greedy labels in %q", op.model.Name, uri)
			}
			greedy = true
			rt.segs = append(rt.segs, tmplSeg{segGreedy, s[1 : len(s)-2]})
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			rt.segs = append(rt.segs, tmplSeg{segLabel, s[1 : len(s)-1]})
		default:
			rt.segs = append(rt.segs, tmplSeg{segLiteral, s})
		}
	}
	if rawQuery != "" {
		rt.query = map[string]string{}
		for kv := range strings.SplitSeq(rawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			rt.query[k] = v
		}
	}
	return rt, nil
}

// splitPath splits a path into its segments, still encoded ("/" is none).
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match matches the encoded request segments. It returns the decoded
// labels and the rank of the match: one entry per template segment,
// literal 0, label 1, greedy 2, so that the lowest rank (compared
// lexicographically) is the most specific template.
func (rt *restRoute) match(segs []string, query url.Values) (map[string]string, []int, bool) {
	for k, v := range rt.query {
		if !query.Has(k) || (v != "" && query.Get(k) != v) {
			return nil, nil, false
		}
	}
	var labels map[string]string
	setLabel := func(name, val string) {
		if labels == nil {
			labels = map[string]string{}
		}
		labels[name] = val
	}
	rank := make([]int, 0, len(rt.segs)+1)
	i := 0 // index into segs
	for ti, ts := range rt.segs {
		switch ts.kind {
		case segLiteral:
			if i >= len(segs) {
				return nil, nil, false
			}
			d, err := url.PathUnescape(segs[i])
			if err != nil || d != ts.value {
				return nil, nil, false
			}
			i++
		case segLabel:
			if i >= len(segs) {
				return nil, nil, false
			}
			d, err := url.PathUnescape(segs[i])
			if err != nil || d == "" {
				return nil, nil, false
			}
			setLabel(ts.value, d)
			i++
		case segGreedy:
			// The greedy label takes what the segments after it leave.
			after := len(rt.segs) - ti - 1
			n := len(segs) - i - after
			if n < 1 {
				return nil, nil, false
			}
			parts := make([]string, n)
			for j := range n {
				d, err := url.PathUnescape(segs[i+j])
				if err != nil {
					return nil, nil, false
				}
				parts[j] = d
			}
			v := strings.Join(parts, "/")
			if v == "" {
				return nil, nil, false
			}
			setLabel(ts.value, v)
			i += n
		}
		rank = append(rank, int(ts.kind))
	}
	if i != len(segs) {
		return nil, nil, false
	}
	// Templates with literal query parameters are more specific.
	if len(rt.query) > 0 {
		rank = append(rank, 0)
	} else {
		rank = append(rank, 1)
	}
	return labels, rank, true
}

func lessRank(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) > len(b)
}

// restInfo describes the bindings of a structure type.
type restInfo struct {
	bound   []field // members bound outside the body
	payload *field
}

func restInfoOf(t reflect.Type) restInfo {
	var ri restInfo
	for _, f := range fieldsOf(t) {
		switch {
		case f.payload:
			f := f
			ri.payload = &f
		case f.location != "":
			ri.bound = append(ri.bound, f)
		}
	}
	return ri
}

func decodeREST(rq *request, in any) error {
	v := reflect.ValueOf(in).Elem()
	ri := restInfoOf(v.Type())
	if ri.payload != nil {
		fv := v.FieldByIndex(ri.payload.index)
		switch {
		case len(rq.body) == 0:
		case fv.Type() == bytesType:
			fv.SetBytes(rq.body)
		case fv.Kind() == reflect.String:
			fv.SetString(string(rq.body))
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.String:
			s := reflect.New(fv.Type().Elem())
			s.Elem().SetString(string(rq.body))
			fv.Set(s)
		default:
			p := reflect.New(fv.Type())
			if err := decodeJSON(rq.body, p.Interface()); err != nil {
				return err
			}
			fv.Set(p.Elem())
		}
	} else if err := decodeJSON(rq.body, in); err != nil {
		return err
	}
	query := rq.r.URL.Query()
	for _, f := range ri.bound {
		fv := v.FieldByIndex(f.index)
		// Bound members come from their binding only, never the body.
		fv.SetZero()
		var err error
		switch f.location {
		case "uri":
			if s, ok := rq.labels[f.locationName]; ok {
				err = setText(fv, s, tsDateTime)
			}
		case "querystring":
			err = bindQueryString(fv, f, query, ri)
		case "header":
			if vals := rq.r.Header.Values(f.locationName); len(vals) > 0 {
				err = bindList(fv, splitHeaderList(fv, vals), tsHTTPDate)
			}
		case "headers":
			err = bindHeaderMap(fv, f.locationName, rq.r.Header)
		}
		if err != nil {
			return serializationErr("Cannot bind %s %q to member %s: %v", f.location, f.locationName, f.name, err)
		}
	}
	return nil
}

// bindQueryString binds one query parameter (repeated for a list) or, for
// a map member without a name, every parameter no other member binds.
func bindQueryString(fv reflect.Value, f field, query url.Values, ri restInfo) error {
	if fv.Kind() == reflect.Map {
		named := map[string]bool{}
		for _, o := range ri.bound {
			if o.location == "querystring" && o.typ.Kind() != reflect.Map {
				named[o.locationName] = true
			}
		}
		m := reflect.MakeMap(fv.Type())
		for k, vals := range query {
			if named[k] || len(vals) == 0 {
				continue
			}
			ev := reflect.New(fv.Type().Elem()).Elem()
			if err := bindList(ev, vals, tsDateTime); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(fv.Type().Key()), ev)
		}
		if m.Len() > 0 {
			fv.Set(m)
		}
		return nil
	}
	vals, ok := query[f.locationName]
	if !ok || len(vals) == 0 {
		return nil
	}
	return bindList(fv, vals, tsDateTime)
}

// bindList sets fv from one value, or from all of them when fv is a list.
func bindList(fv reflect.Value, vals []string, ts tsFormat) error {
	if fv.Kind() == reflect.Slice && fv.Type() != bytesType {
		s := reflect.MakeSlice(fv.Type(), len(vals), len(vals))
		for i, x := range vals {
			if err := setText(s.Index(i), x, ts); err != nil {
				return err
			}
		}
		fv.Set(s)
		return nil
	}
	return setText(fv, vals[0], ts)
}

// splitHeaderList splits comma-separated list headers (RFC 9110 5.3);
// http-date values contain commas, and are not split.
func splitHeaderList(fv reflect.Value, vals []string) []string {
	if fv.Kind() != reflect.Slice || fv.Type() == bytesType || fv.Type().Elem() == timeType || fv.Type().Elem() == reflect.PointerTo(timeType) {
		return []string{strings.Join(vals, ", ")}
	}
	var out []string
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}

func bindHeaderMap(fv reflect.Value, prefix string, h http.Header) error {
	if fv.Kind() != reflect.Map {
		return nil
	}
	m := reflect.MakeMap(fv.Type())
	lp := strings.ToLower(prefix)
	for k, vals := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, lp) || len(vals) == 0 {
			continue
		}
		ev := reflect.New(fv.Type().Elem()).Elem()
		if err := setText(ev, strings.Join(vals, ","), tsHTTPDate); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(lk[len(lp):]).Convert(fv.Type().Key()), ev)
	}
	if m.Len() > 0 {
		fv.Set(m)
	}
	return nil
}

func writeRESTOutput(rq *request, out any) error {
	v := reflect.ValueOf(out).Elem()
	ri := restInfoOf(v.Type())
	status := rq.op.model.SuccessCode
	if status == 0 {
		status = http.StatusOK
	}
	h := rq.w.Header()
	body := v
	if len(ri.bound) > 0 {
		// The body is the structure without its bound members.
		body = reflect.New(v.Type()).Elem()
		body.Set(v)
	}
	for _, f := range ri.bound {
		fv := v.FieldByIndex(f.index)
		body.FieldByIndex(f.index).SetZero()
		if isNil(fv) {
			continue
		}
		switch f.location {
		case "header":
			if fv.Kind() == reflect.Slice && fv.Type() != bytesType {
				parts := make([]string, fv.Len())
				for i := range parts {
					parts[i] = formatText(fv.Index(i), tsHTTPDate)
				}
				h.Set(f.locationName, strings.Join(parts, ", "))
			} else {
				h.Set(f.locationName, formatText(fv, tsHTTPDate))
			}
		case "headers":
			if fv.Kind() == reflect.Map {
				keys := fv.MapKeys()
				sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
				for _, k := range keys {
					h.Set(f.locationName+k.String(), formatText(fv.MapIndex(k), tsHTTPDate))
				}
			}
		case "statusCode":
			if fv.Kind() == reflect.Pointer {
				fv = fv.Elem()
			}
			if fv.CanInt() && fv.Int() >= 100 && fv.Int() <= 999 {
				status = int(fv.Int())
			}
		}
	}
	if ri.payload != nil {
		pv := v.FieldByIndex(ri.payload.index)
		switch {
		case isNil(pv):
			rq.send(status, "", nil)
		case pv.Type() == bytesType:
			rq.send(status, "application/octet-stream", pv.Bytes())
		case pv.Kind() == reflect.String || pv.Kind() == reflect.Pointer && pv.Elem().Kind() == reflect.String:
			rq.send(status, "text/plain", []byte(formatText(pv, tsDateTime)))
		default:
			b, err := marshalJSON(pv.Interface())
			if err != nil {
				return err
			}
			rq.send(status, "application/json", b)
		}
		return nil
	}
	b, err := marshalJSON(body.Addr().Interface())
	if err != nil {
		return err
	}
	rq.send(status, "application/json", b)
	return nil
}

func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return v.IsNil()
	}
	return false
}
