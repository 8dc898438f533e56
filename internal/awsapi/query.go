package awsapi

// awsQuery (https://smithy.io/2.0/aws/protocols/aws-query-protocol.html):
// the input is a form (Action, Version and the members flattened into
// dotted keys: lists as Name.member.N, or Name.N when flattened; maps as
// Name.entry.N.key / Name.entry.N.value; structures as Name.Member), the
// output an XML document wrapped in <OpResponse><OpResult>.

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// qnode is one level of the dotted keys of a form.
type qnode struct {
	value    string
	hasValue bool
	kids     map[string]*qnode
}

func (n *qnode) kid(name string) *qnode {
	if n.kids == nil {
		return nil
	}
	return n.kids[name]
}

// maxQueryDepth bounds the dotted keys (the models nest far less).
const maxQueryDepth = 32

func buildQueryTree(form url.Values) (*qnode, error) {
	root := &qnode{}
	for key, vals := range form {
		parts := strings.Split(key, ".")
		if len(parts) > maxQueryDepth {
			return nil, &wireError{"SerializationException", "InvalidQueryParameter", http.StatusBadRequest,
				fmt.Sprintf("Parameter %q is nested too deeply", key)}
		}
		n := root
		for _, p := range parts {
			if n.kids == nil {
				n.kids = map[string]*qnode{}
			}
			c := n.kids[p]
			if c == nil {
				c = &qnode{}
				n.kids[p] = c
			}
			n = c
		}
		if len(vals) > 0 {
			n.value, n.hasValue = vals[0], true
		}
	}
	return root, nil
}

// decodeQuery decodes the form parameters into in (a pointer to a struct).
func decodeQuery(form url.Values, in any) error {
	root, err := buildQueryTree(form)
	if err != nil {
		return err
	}
	v := reflect.ValueOf(in).Elem()
	if v.Kind() != reflect.Struct {
		return nil
	}
	return decodeQueryStruct(v, root, "")
}

func queryErr(path string, err error) error {
	return &wireError{"SerializationException", "InvalidParameterValue", http.StatusBadRequest,
		fmt.Sprintf("Invalid value for parameter %s: %v", path, err)}
}

func decodeQueryStruct(v reflect.Value, n *qnode, prefix string) error {
	for _, f := range fieldsOf(v.Type()) {
		c := n.kid(f.queryName)
		if c == nil {
			continue
		}
		if err := decodeQueryValue(v.FieldByIndex(f.index), c, prefix+f.queryName, f.flattened); err != nil {
			return err
		}
	}
	return nil
}

func decodeQueryValue(v reflect.Value, n *qnode, path string, flattened bool) error {
	t := v.Type()
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && t.Elem() != timeType {
		nv := reflect.New(t.Elem())
		if err := decodeQueryStruct(nv.Elem(), n, path+"."); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	}
	switch {
	case t.Kind() == reflect.Struct && t != timeType:
		return decodeQueryStruct(v, n, path+".")
	case t.Kind() == reflect.Slice && t != bytesType:
		return decodeQueryList(v, n, path, flattened)
	case t.Kind() == reflect.Map:
		return decodeQueryMap(v, n, path, flattened)
	}
	if !n.hasValue {
		return queryErr(path, fmt.Errorf("a value is required"))
	}
	if err := setText(v, n.value, tsDateTime); err != nil {
		return queryErr(path, err)
	}
	return nil
}

// indexed returns the children of n named by 1-based indexes, in order.
// The values of the indexes do not size anything: a client sending
// member.1000000 gets a list of one.
func indexed(n *qnode, path string) ([]*qnode, error) {
	if n == nil {
		return nil, nil
	}
	type item struct {
		i int
		n *qnode
	}
	items := make([]item, 0, len(n.kids))
	for k, c := range n.kids {
		i, err := strconv.Atoi(k)
		if err != nil || i < 1 {
			return nil, &wireError{"SerializationException", "InvalidQueryParameter", http.StatusBadRequest,
				fmt.Sprintf("Parameter %s.%s: list and map entries are numbered from 1", path, k)}
		}
		items = append(items, item{i, c})
	}
	sort.Slice(items, func(a, b int) bool { return items[a].i < items[b].i })
	out := make([]*qnode, len(items))
	for i, it := range items {
		out[i] = it.n
	}
	return out, nil
}

func decodeQueryList(v reflect.Value, n *qnode, path string, flattened bool) error {
	// botocore sends an empty list as "Name=" with no entries.
	elems := n
	if !flattened {
		path += ".member"
		elems = n.kid("member")
	}
	items, err := indexed(elems, path)
	if err != nil {
		return err
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, it := range items {
		if err := decodeQueryValue(s.Index(i), it, path+"."+strconv.Itoa(i+1), false); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

func decodeQueryMap(v reflect.Value, n *qnode, path string, flattened bool) error {
	entries := n
	if !flattened {
		path += ".entry"
		entries = n.kid("entry")
	}
	items, err := indexed(entries, path)
	if err != nil {
		return err
	}
	m := reflect.MakeMapWithSize(v.Type(), len(items))
	for i, it := range items {
		p := path + "." + strconv.Itoa(i+1)
		kn, vn := it.kid("key"), it.kid("value")
		if kn == nil || !kn.hasValue {
			return queryErr(p+".key", fmt.Errorf("a key is required"))
		}
		kv := reflect.New(v.Type().Key()).Elem()
		if err := setText(kv, kn.value, tsDateTime); err != nil {
			return queryErr(p+".key", err)
		}
		ev := reflect.New(v.Type().Elem()).Elem()
		if vn != nil {
			if err := decodeQueryValue(ev, vn, p+".value", false); err != nil {
				return err
			}
		}
		m.SetMapIndex(kv, ev)
	}
	v.Set(m)
	return nil
}

// writeQueryOutput writes
//
//	<OpResponse xmlns="..."><OpResult>...</OpResult>
//	<ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></OpResponse>
func writeQueryOutput(rq *request, out any) error {
	var b bytes.Buffer
	name := rq.op.model.Name
	fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, name, xmlEscape(rq.svc.model.XMLNamespace))
	if w := rq.op.model.ResultWrapper; w != "" {
		b.WriteString("<" + w + ">")
		writeXMLMembers(&b, reflect.ValueOf(out))
		b.WriteString("</" + w + ">")
	}
	b.WriteString("<ResponseMetadata><RequestId>" + rq.id + "</RequestId></ResponseMetadata>")
	fmt.Fprintf(&b, "</%sResponse>", name)
	rq.send(http.StatusOK, "text/xml", b.Bytes())
	return nil
}

func writeQueryError(rq *request, ae *apiError) {
	ns := ""
	if rq.svc != nil {
		ns = rq.svc.model.XMLNamespace
	}
	typ := "Sender"
	if ae.status >= 500 {
		typ = "Receiver"
	}
	var b bytes.Buffer
	if ns != "" {
		fmt.Fprintf(&b, `<ErrorResponse xmlns="%s">`, xmlEscape(ns))
	} else {
		b.WriteString("<ErrorResponse>")
	}
	b.WriteString("<Error><Type>" + typ + "</Type><Code>" + xmlEscape(ae.code) + "</Code><Message>" + xmlEscape(ae.message) + "</Message></Error>")
	b.WriteString("<RequestId>" + rq.id + "</RequestId></ErrorResponse>")
	rq.send(ae.status, "text/xml", b.Bytes())
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// writeXMLMembers writes the members of a structure (v a struct or a
// pointer to one), in field order, leaving out the unset ones.
func writeXMLMembers(b *bytes.Buffer, v reflect.Value) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	for _, f := range fieldsOf(v.Type()) {
		fv := v.FieldByIndex(f.index)
		if isNil(fv) {
			continue
		}
		if fv.Kind() == reflect.Slice && fv.Type() != bytesType && f.flattened {
			for i := 0; i < fv.Len(); i++ {
				writeXMLElement(b, f.xmlName, fv.Index(i))
			}
			continue
		}
		if fv.Kind() == reflect.Map && f.flattened {
			for _, k := range sortedKeys(fv) {
				b.WriteString("<" + f.xmlName + ">")
				writeXMLElement(b, "key", k)
				writeXMLElement(b, "value", fv.MapIndex(k))
				b.WriteString("</" + f.xmlName + ">")
			}
			continue
		}
		writeXMLElement(b, f.xmlName, fv)
	}
}

func writeXMLElement(b *bytes.Buffer, name string, v reflect.Value) {
	if isNil(v) {
		return
	}
	b.WriteString("<" + name + ">")
	t := v.Type()
	if t.Kind() == reflect.Pointer && t.Elem() != timeType {
		v, t = v.Elem(), t.Elem()
	}
	switch {
	case t == timeType || t.Kind() == reflect.Pointer:
		b.WriteString(formatText(v, tsDateTime))
	case t.Kind() == reflect.Struct:
		writeXMLMembers(b, v)
	case t.Kind() == reflect.Slice && t != bytesType:
		for i := 0; i < v.Len(); i++ {
			writeXMLElement(b, "member", v.Index(i))
		}
	case t.Kind() == reflect.Map:
		for _, k := range sortedKeys(v) {
			b.WriteString("<entry>")
			writeXMLElement(b, "key", k)
			writeXMLElement(b, "value", v.MapIndex(k))
			b.WriteString("</entry>")
		}
	default:
		_ = xml.EscapeText(b, []byte(formatText(v, tsDateTime)))
	}
	b.WriteString("</" + name + ">")
}

func sortedKeys(m reflect.Value) []reflect.Value {
	keys := m.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}
