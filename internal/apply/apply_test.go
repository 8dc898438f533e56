package apply

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeAPI keeps resources in memory the way the server answers them.
type fakeAPI struct {
	items map[string]map[string]map[string]any // op suffix → id → body
	calls []string
	n     int
}

func (f *fakeAPI) Call(_ context.Context, op string, in, out any) error {
	f.calls = append(f.calls, op)
	body, _ := in.(map[string]any)
	for _, k := range kinds {
		switch op {
		case "List" + k.plural:
			var list []any
			for id, b := range f.items[k.op] {
				list = append(list, map[string]any{k.id: id, k.name: b[k.name]})
			}
			if out != nil {
				*out.(*map[string]any) = map[string]any{k.list: list}
			}
			return nil
		case "Create" + k.op:
			f.n++
			id := fmt.Sprintf("%s-%d", strings.ToLower(k.op[:2]), f.n)
			stored := normalize(body).(map[string]any)
			stored[k.id] = id
			stored[k.arn] = "arn:" + id
			delete(stored, "Tags")
			if f.items[k.op] == nil {
				f.items[k.op] = map[string]map[string]any{}
			}
			f.items[k.op][id] = stored
			*out.(*map[string]any) = map[string]any{k.id: id}
			return nil
		case "Get" + k.op:
			b, ok := f.items[k.op][body[k.id].(string)]
			if !ok {
				return fmt.Errorf("ResourceNotFoundException")
			}
			*out.(*map[string]any) = normalize(b).(map[string]any)
			return nil
		case "Update" + k.op:
			b := f.items[k.op][body[k.id].(string)]
			for key, v := range normalize(body).(map[string]any) {
				b[key] = v
			}
			return nil
		}
	}
	return fmt.Errorf("unexpected %s", op)
}

const file = `
archives:
  - ArchiveName: keep
    Retention: {RetentionPeriod: ONE_YEAR}
relays:
  - RelayName: onprem
    ServerName: mail.internal
    ServerPort: 25
    Authentication: {NoAuthentication: {}}
trafficPolicies:
  - TrafficPolicyName: allow
    DefaultAction: ALLOW
    PolicyStatements: []
ruleSets:
  - RuleSetName: rs
    Rules:
      - Name: r
        Actions:
          - Archive: {TargetArchive: keep}
          - Relay: {Relay: onprem, MailFrom: PRESERVE}
ingressPoints:
  - IngressPointName: mx1
    Type: OPEN
    RuleSetId: rs
    TrafficPolicyId: allow
`

func TestApplyIsIdempotentAndResolvesNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	api := &fakeAPI{items: map[string]map[string]map[string]any{}}
	f, err := Parse(strings.NewReader(file))
	require.NoError(t, err)

	plan, err := Apply(ctx, api, f, true)
	require.NoError(t, err)
	require.Len(t, plan, 5)
	for _, c := range plan {
		require.Equal(t, "create", c.Action, c.String())
	}
	require.Empty(t, api.items, "a dry run creates nothing")

	_, err = Apply(ctx, api, f, false)
	require.NoError(t, err)
	var ip map[string]any
	for _, b := range api.items["IngressPoint"] {
		ip = b
	}
	require.Equal(t, "ru-4", ip["RuleSetId"], "rule set name resolved to its id")
	require.Equal(t, "tr-3", ip["TrafficPolicyId"])
	var rs map[string]any
	for _, b := range api.items["RuleSet"] {
		rs = b
	}
	relay := rs["Rules"].([]any)[0].(map[string]any)["Actions"].([]any)[1].(map[string]any)["Relay"].(map[string]any)
	require.Equal(t, "re-2", relay["Relay"], "relay name resolved to its id")

	plan, err = Apply(ctx, api, f, false)
	require.NoError(t, err)
	for _, c := range plan {
		require.Equal(t, "unchanged", c.Action, c.String())
	}

	f2, err := Parse(strings.NewReader(strings.Replace(file, "ONE_YEAR", "TWO_YEARS", 1)))
	require.NoError(t, err)
	plan, err = Apply(ctx, api, f2, false)
	require.NoError(t, err)
	require.Equal(t, "update", plan[0].Action)
	require.Contains(t, plan[0].Diff[0], "TWO_YEARS")
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]string{
		"unknown section": "widgets: []\n",
		"missing name":    "archives:\n  - Retention: {RetentionPeriod: ONE_YEAR}\n",
		"duplicate name":  "relays:\n  - RelayName: a\n  - RelayName: a\n",
		"not yaml":        "archives: [\n",
	} {
		_, err := Parse(strings.NewReader(src))
		require.Error(t, err, name)
	}
}

func TestUnknownReference(t *testing.T) {
	t.Parallel()
	api := &fakeAPI{items: map[string]map[string]map[string]any{}}
	f, err := Parse(strings.NewReader("ingressPoints:\n  - IngressPointName: mx1\n    Type: OPEN\n    RuleSetId: nope\n    TrafficPolicyId: nope\n"))
	require.NoError(t, err)
	_, err = Apply(context.Background(), api, f, false)
	require.ErrorContains(t, err, `no rule set named "nope"`)
}
