// Package apply makes a Tidings server's Mail Manager resources match a
// declarative YAML file, through the same API every other client uses. A
// second apply of the same file changes nothing; a dry run prints the plan.
package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tidings/tidings/internal/client"
)

// File is the declarative file. Each resource is written with the members of
// its Create request, as the AWS API documents them (PascalCase). Where an
// API member takes an id or ARN of another resource (an ingress point's
// RuleSetId and TrafficPolicyId, a Relay action's Relay, the AddressLists of
// a condition), the file may give that resource's name instead.
type File struct {
	AddressLists    []map[string]any `yaml:"addressLists"`
	Archives        []map[string]any `yaml:"archives"`
	Relays          []map[string]any `yaml:"relays"`
	TrafficPolicies []map[string]any `yaml:"trafficPolicies"`
	RuleSets        []map[string]any `yaml:"ruleSets"`
	IngressPoints   []map[string]any `yaml:"ingressPoints"`
}

// Caller calls one Mail Manager operation; *client.Client satisfies it
// through MailManager below.
type Caller interface {
	Call(ctx context.Context, op string, in, out any) error
}

// MailManager adapts a client to Caller.
type MailManager struct{ C *client.Client }

func (m MailManager) Call(ctx context.Context, op string, in, out any) error {
	return m.C.JSON(ctx, "MailManagerSvc", "ses", op, in, out)
}

// kind describes how one resource kind maps onto the API.
type kind struct {
	section  string // key in the file
	noun     string // for messages
	name     string // name member, e.g. "RuleSetName"
	id       string // id member, e.g. "RuleSetId"
	arn      string // ARN member of Get's answer, e.g. "RuleSetArn"
	list     string // list operation's answer member, e.g. "RuleSets"
	op       string // operation suffix, e.g. "RuleSet"
	plural   string // list operation suffix, e.g. "RuleSets"
	canPatch bool   // has an Update operation
	// createOnly members are sent on create but cannot be compared (write-only or immutable).
	createOnly []string
	// updateDrop members of the create request that Update does not take.
	updateDrop []string
}

// Order matters: a kind may refer only to kinds before it.
var kinds = []kind{
	{section: "addressLists", noun: "address list", name: "AddressListName", id: "AddressListId", arn: "AddressListArn", list: "AddressLists", op: "AddressList", plural: "AddressLists", createOnly: []string{"Tags"}},
	{section: "archives", noun: "archive", name: "ArchiveName", id: "ArchiveId", arn: "ArchiveArn", list: "Archives", op: "Archive", plural: "Archives", canPatch: true, createOnly: []string{"Tags", "KmsKeyArn"}, updateDrop: []string{"KmsKeyArn"}},
	{section: "relays", noun: "relay", name: "RelayName", id: "RelayId", arn: "RelayArn", list: "Relays", op: "Relay", plural: "Relays", canPatch: true, createOnly: []string{"Tags"}},
	{section: "trafficPolicies", noun: "traffic policy", name: "TrafficPolicyName", id: "TrafficPolicyId", arn: "TrafficPolicyArn", list: "TrafficPolicies", op: "TrafficPolicy", plural: "TrafficPolicies", canPatch: true, createOnly: []string{"Tags"}},
	{section: "ruleSets", noun: "rule set", name: "RuleSetName", id: "RuleSetId", arn: "RuleSetArn", list: "RuleSets", op: "RuleSet", plural: "RuleSets", canPatch: true, createOnly: []string{"Tags"}},
	{section: "ingressPoints", noun: "ingress point", name: "IngressPointName", id: "IngressPointId", arn: "IngressPointArn", list: "IngressPoints", op: "IngressPoint", plural: "IngressPoints", canPatch: true,
		createOnly: []string{"Tags", "Type", "IngressPointConfiguration", "NetworkConfiguration"}, updateDrop: []string{"Type", "NetworkConfiguration"}},
}

// Change is one step of a plan.
type Change struct {
	Action string // "create", "update", "unchanged"
	Kind   string
	Name   string
	Diff   []string // "Field: old → new" lines for updates
}

func (c Change) String() string {
	sign := map[string]string{"create": "+", "update": "~", "unchanged": "="}[c.Action]
	s := fmt.Sprintf("%s %s %s %q", sign, c.Action, c.Kind, c.Name)
	for _, d := range c.Diff {
		s += "\n    " + d
	}
	return s
}

// Parse reads a file, rejecting unknown sections and resources without names.
func Parse(r io.Reader) (*File, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	for _, k := range kinds {
		seen := map[string]bool{}
		for i, spec := range f.section(k.section) {
			name, _ := spec[k.name].(string)
			if name == "" {
				return nil, fmt.Errorf("%s[%d]: %s is required", k.section, i, k.name)
			}
			if seen[name] {
				return nil, fmt.Errorf("%s: %q appears twice", k.section, name)
			}
			seen[name] = true
		}
	}
	return &f, nil
}

func (f *File) section(name string) []map[string]any {
	switch name {
	case "addressLists":
		return f.AddressLists
	case "archives":
		return f.Archives
	case "relays":
		return f.Relays
	case "trafficPolicies":
		return f.TrafficPolicies
	case "ruleSets":
		return f.RuleSets
	case "ingressPoints":
		return f.IngressPoints
	}
	return nil
}

// nouns names each section's kind for messages.
var nouns = func() map[string]string {
	m := map[string]string{}
	for _, k := range kinds {
		m[k.section] = k.noun
	}
	return m
}()

// existing is what the server has of one kind: name → id and ARN.
type existing struct{ id, arn string }

// Apply makes the server match f. With dryRun it only computes the plan.
func Apply(ctx context.Context, api Caller, f *File, dryRun bool) ([]Change, error) {
	ids := map[string]map[string]existing{} // section → name → ids
	var plan []Change
	for _, k := range kinds {
		have, err := listAll(ctx, api, k)
		if err != nil {
			return plan, err
		}
		ids[k.section] = have
		for _, spec := range f.section(k.section) {
			name := spec[k.name].(string)
			want, err := resolve(k, spec, ids, dryRun)
			if err != nil {
				return plan, fmt.Errorf("%s %q: %w", k.noun, name, err)
			}
			cur, ok := have[name]
			if !ok {
				plan = append(plan, Change{Action: "create", Kind: k.noun, Name: name})
				if dryRun {
					have[name] = existing{id: "(id of new " + k.noun + " " + name + ")", arn: "(arn of new " + k.noun + " " + name + ")"}
					continue
				}
				var out map[string]any
				if err := api.Call(ctx, "Create"+k.op, want, &out); err != nil {
					return plan, fmt.Errorf("creating %s %q: %w", k.noun, name, err)
				}
				id, _ := out[k.id].(string)
				var got map[string]any
				if err := api.Call(ctx, "Get"+k.op, map[string]any{k.id: id}, &got); err != nil {
					return plan, fmt.Errorf("reading back %s %q: %w", k.noun, name, err)
				}
				arn, _ := got[k.arn].(string)
				have[name] = existing{id: id, arn: arn}
				continue
			}
			var got map[string]any
			if err := api.Call(ctx, "Get"+k.op, map[string]any{k.id: cur.id}, &got); err != nil {
				return plan, fmt.Errorf("reading %s %q: %w", k.noun, name, err)
			}
			if arn, _ := got[k.arn].(string); arn != "" {
				cur.arn = arn
				have[name] = cur
			}
			diff := compare(k, want, got)
			if len(diff) == 0 {
				plan = append(plan, Change{Action: "unchanged", Kind: k.noun, Name: name})
				continue
			}
			if !k.canPatch {
				return plan, fmt.Errorf("%s %q differs from the file (%s) and the API cannot update it: delete it first", k.noun, name, strings.Join(diff, "; "))
			}
			plan = append(plan, Change{Action: "update", Kind: k.noun, Name: name, Diff: diff})
			if dryRun {
				continue
			}
			upd := map[string]any{k.id: cur.id}
			for key, v := range want {
				if !slices.Contains(k.updateDrop, key) && key != "Tags" && key != "ClientToken" {
					upd[key] = v
				}
			}
			if err := api.Call(ctx, "Update"+k.op, upd, nil); err != nil {
				return plan, fmt.Errorf("updating %s %q: %w", k.noun, name, err)
			}
		}
	}
	return plan, nil
}

func listAll(ctx context.Context, api Caller, k kind) (map[string]existing, error) {
	have := map[string]existing{}
	token := ""
	for {
		in := map[string]any{}
		if token != "" {
			in["NextToken"] = token
		}
		var out map[string]any
		if err := api.Call(ctx, "List"+k.plural, in, &out); err != nil {
			return nil, fmt.Errorf("listing %s: %w", k.section, err)
		}
		items, _ := out[k.list].([]any)
		for _, it := range items {
			m, _ := it.(map[string]any)
			name, _ := m[k.name].(string)
			id, _ := m[k.id].(string)
			arn, _ := m[k.arn].(string)
			have[name] = existing{id: id, arn: arn}
		}
		token, _ = out["NextToken"].(string)
		if token == "" {
			return have, nil
		}
	}
}

// resolve returns the create request for spec, with names of other
// resources replaced by their ids or ARNs.
func resolve(k kind, spec map[string]any, ids map[string]map[string]existing, dryRun bool) (map[string]any, error) {
	out := normalize(spec).(map[string]any) // a copy, in the form the API answers
	lookup := func(section, name string, arn bool) (string, error) {
		if e, ok := ids[section][name]; ok {
			if arn {
				return e.arn, nil
			}
			return e.id, nil
		}
		for _, e := range ids[section] {
			if e.id == name || e.arn == name {
				return name, nil // already an id or ARN
			}
		}
		if strings.HasPrefix(name, "arn:") {
			return name, nil
		}
		return "", fmt.Errorf("no %s named %q (in the file or on the server)", nouns[section], name)
	}
	var err error
	replace := func(m map[string]any, key, section string, arn bool) {
		if s, ok := m[key].(string); ok && err == nil {
			m[key], err = lookup(section, s, arn)
		}
	}
	switch k.section {
	case "ingressPoints":
		replace(out, "RuleSetId", "ruleSets", false)
		replace(out, "TrafficPolicyId", "trafficPolicies", false)
	}
	walk(out, func(m map[string]any) {
		if r, ok := m["Relay"].(map[string]any); ok {
			replace(r, "Relay", "relays", false)
		}
		if lists, ok := m["AddressLists"].([]any); ok {
			for i, v := range lists {
				if s, ok := v.(string); ok && err == nil {
					lists[i], err = lookup("addressLists", s, true)
				}
			}
		}
	})
	return out, err
}

// compare lists the members of want that differ from got. Members the file
// does not mention are left as the server has them; write-only members are
// not compared.
func compare(k kind, want, got map[string]any) []string {
	var diff []string
	keys := make([]string, 0, len(want))
	for key := range want {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if slices.Contains(k.createOnly, key) || key == "ClientToken" {
			continue
		}
		w, g := normalize(want[key]), normalize(got[key])
		if !subset(w, g) {
			diff = append(diff, fmt.Sprintf("%s: %s → %s", key, brief(g), brief(w)))
		}
	}
	return diff
}

// normalize turns YAML- and JSON-decoded values into the same form.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// subset reports whether every member of want is present and equal in got
// (lists must match element by element).
func subset(want, got any) bool {
	// An empty list or map in the file means the same as one the server
	// leaves out.
	if got == nil {
		switch w := want.(type) {
		case []any:
			return len(w) == 0
		case map[string]any:
			return len(w) == 0
		}
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !subset(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !subset(w[i], g[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, got)
	}
}

func brief(v any) string {
	if v == nil {
		return "(unset)"
	}
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func walk(v any, fn func(map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		fn(t)
		for _, c := range t {
			walk(c, fn)
		}
	case []any:
		for _, c := range t {
			walk(c, fn)
		}
	}
}
