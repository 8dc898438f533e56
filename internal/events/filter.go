package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidings/tidings/internal/fault"
)

// Filter is a subscription's filter policy, in the syntax of SNS
// payload-based filter policies (FilterPolicyScope MessageBody): a JSON
// object whose keys name fields of the (JSON) message body, nested objects
// name nested fields, and each leaf is an array of conditions of which one
// must hold; every key must match. Conditions:
//
//	"Bounce"                          the field equals the string
//	42, true                          … the number, the boolean
//	{"prefix": "Del"}                 the string starts with
//	{"suffix": ".com"}                … ends with
//	{"equals-ignore-case": "bounce"}  equals without regard to case
//	{"anything-but": ["Open","Click"]} none of these (a value or a list)
//	{"exists": false}                 the field is absent (true: present)
//	{"numeric": [">=", 1, "<", 10]}   number comparisons, all of them
//
// A field holding an array matches when one of its elements does. A
// message whose body is not a JSON object matches no filter. Example, for
// SES events: {"eventType": ["Bounce", "Complaint"]}.
type Filter struct {
	root map[string]any
}

// MaxFilterBytes bounds a filter policy.
const MaxFilterBytes = 16 << 10

// ParseFilter parses and checks a filter policy.
func ParseFilter(s string) (*Filter, error) {
	if len(s) > MaxFilterBytes {
		return nil, fault.Invalidf("filter policy longer than %d bytes", MaxFilterBytes)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fault.Invalidf("filter policy: want a JSON object: %v", err)
	}
	if len(root) == 0 {
		return nil, fault.Invalidf("filter policy: empty")
	}
	if err := checkPolicy(root, ""); err != nil {
		return nil, err
	}
	return &Filter{root: root}, nil
}

func checkPolicy(obj map[string]any, path string) error {
	for k, v := range obj {
		p := path + k
		switch v := v.(type) {
		case map[string]any:
			if len(v) == 0 {
				return fault.Invalidf("filter policy: %s: empty object", p)
			}
			if err := checkPolicy(v, p+"."); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				return fault.Invalidf("filter policy: %s: empty list of conditions", p)
			}
			for _, c := range v {
				if err := checkCondition(c, p); err != nil {
					return err
				}
			}
		default:
			return fault.Invalidf("filter policy: %s: want a list of conditions or a nested object", p)
		}
	}
	return nil
}

func checkCondition(c any, p string) error {
	switch c := c.(type) {
	case string, json.Number, bool:
		return nil
	case map[string]any:
		if len(c) != 1 {
			return fault.Invalidf("filter policy: %s: a condition object has one operator", p)
		}
		for op, arg := range c {
			switch op {
			case "prefix", "suffix", "equals-ignore-case":
				if _, ok := arg.(string); !ok {
					return fault.Invalidf("filter policy: %s: %s takes a string", p, op)
				}
			case "exists":
				if _, ok := arg.(bool); !ok {
					return fault.Invalidf("filter policy: %s: exists takes true or false", p)
				}
			case "anything-but":
				switch a := arg.(type) {
				case string, json.Number:
				case []any:
					for _, x := range a {
						switch x.(type) {
						case string, json.Number:
						default:
							return fault.Invalidf("filter policy: %s: anything-but lists strings or numbers", p)
						}
					}
				default:
					return fault.Invalidf("filter policy: %s: anything-but takes a string, a number or a list of them", p)
				}
			case "numeric":
				a, ok := arg.([]any)
				if !ok || len(a) == 0 || len(a)%2 != 0 {
					return fault.Invalidf("filter policy: %s: numeric takes pairs of an operator and a number", p)
				}
				for i := 0; i < len(a); i += 2 {
					op, _ := a[i].(string)
					if _, ok := a[i+1].(json.Number); !ok || !validNumericOp(op) {
						return fault.Invalidf("filter policy: %s: numeric takes pairs of an operator (=, <, <=, >, >=) and a number", p)
					}
				}
			default:
				return fault.Invalidf("filter policy: %s: unknown operator %q", p, op)
			}
		}
		return nil
	}
	return fault.Invalidf("filter policy: %s: a condition is a string, a number, a boolean or an operator object", p)
}

func validNumericOp(op string) bool {
	switch op {
	case "=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

// Match reports whether a message body passes the filter.
func (f *Filter) Match(body []byte) bool {
	if f == nil {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var msg map[string]any
	if err := dec.Decode(&msg); err != nil {
		return false
	}
	return matchObject(f.root, msg)
}

func matchObject(policy, msg map[string]any) bool {
	for k, pv := range policy {
		v, present := msg[k]
		switch pv := pv.(type) {
		case map[string]any:
			sub, ok := v.(map[string]any)
			if !ok {
				sub = map[string]any{}
			}
			if !matchObject(pv, sub) {
				return false
			}
		case []any:
			if !matchConditions(pv, v, present) {
				return false
			}
		}
	}
	return true
}

func matchConditions(conds []any, v any, present bool) bool {
	for _, c := range conds {
		if matchCondition(c, v, present) {
			return true
		}
	}
	return false
}

func matchCondition(c any, v any, present bool) bool {
	if m, ok := c.(map[string]any); ok {
		for op, arg := range m {
			if op == "exists" {
				return arg.(bool) == present
			}
			if op == "anything-but" {
				if !present {
					return false
				}
				list, ok := arg.([]any)
				if !ok {
					list = []any{arg}
				}
				for _, x := range values(v) {
					for _, no := range list {
						if equalValue(no, x) {
							return false
						}
					}
				}
				return true
			}
		}
	}
	if !present {
		return false
	}
	for _, x := range values(v) {
		if matchOne(c, x) {
			return true
		}
	}
	return false
}

// values is v's elements when v is an array, else v.
func values(v any) []any {
	if a, ok := v.([]any); ok {
		return a
	}
	return []any{v}
}

func matchOne(c, x any) bool {
	switch c := c.(type) {
	case string, json.Number, bool:
		return equalValue(c, x)
	case map[string]any:
		for op, arg := range c {
			s, isStr := x.(string)
			switch op {
			case "prefix":
				return isStr && strings.HasPrefix(s, arg.(string))
			case "suffix":
				return isStr && strings.HasSuffix(s, arg.(string))
			case "equals-ignore-case":
				return isStr && strings.EqualFold(s, arg.(string))
			case "numeric":
				n, ok := x.(json.Number)
				if !ok {
					return false
				}
				xf, err := n.Float64()
				if err != nil {
					return false
				}
				a := arg.([]any)
				for i := 0; i < len(a); i += 2 {
					bf, _ := a[i+1].(json.Number).Float64()
					if !compare(a[i].(string), xf, bf) {
						return false
					}
				}
				return true
			}
		}
	}
	return false
}

func compare(op string, a, b float64) bool {
	switch op {
	case "=":
		return a == b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}

// equalValue compares a policy value and a message value: numbers by
// value (1 equals 1.0), the rest exactly.
func equalValue(p, x any) bool {
	if pn, ok := p.(json.Number); ok {
		xn, ok := x.(json.Number)
		if !ok {
			return false
		}
		pf, err1 := pn.Float64()
		xf, err2 := xn.Float64()
		return err1 == nil && err2 == nil && pf == xf
	}
	return fmt.Sprint(p) == fmt.Sprint(x) && sameKind(p, x)
}

func sameKind(p, x any) bool {
	switch p.(type) {
	case string:
		_, ok := x.(string)
		return ok
	case bool:
		_, ok := x.(bool)
		return ok
	}
	return false
}
