package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const applyFile = `# A gateway for corp.example, as an operator would keep it in Git.
addressLists:
  - AddressListName: apply-vip
archives:
  - ArchiveName: apply-archive
    Retention: {RetentionPeriod: ONE_YEAR}
relays:
  - RelayName: apply-relay
    ServerName: smtp.corp.example
    ServerPort: 587
    Authentication: {NoAuthentication: {}}
trafficPolicies:
  - TrafficPolicyName: apply-policy
    DefaultAction: DENY
    MaxMessageSizeBytes: 10485760
    PolicyStatements:
      - Action: ALLOW
        Conditions:
          - IpExpression:
              Evaluate: {Attribute: SENDER_IP}
              Operator: CIDR_MATCHES
              Values: [10.0.0.0/8]
ruleSets:
  - RuleSetName: apply-rules
    Rules:
      - Name: vip
        Conditions:
          - BooleanExpression:
              Evaluate: {IsInAddressList: {AddressLists: [apply-vip], Attribute: RECIPIENT}}
              Operator: IS_TRUE
        Actions:
          - Relay: {Relay: apply-relay}
      - Name: keep
        Actions:
          - Archive: {TargetArchive: apply-archive}
ingressPoints:
  - IngressPointName: apply-inbound
    Type: OPEN
    RuleSetId: apply-rules
    TrafficPolicyId: apply-policy
`

// TestApply applies a YAML file with `tidings apply`: a dry run changes
// nothing, the first apply creates everything, a second changes nothing,
// an edited file updates only what changed.
func TestApply(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	write := func(content string) {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	apply := func(args ...string) []string {
		t.Helper()
		out, errOut, code := run(t, s.clientEnv("", ""), nil, tidingsBin, append([]string{"apply", "-f", file}, args...)...)
		if code != 0 {
			t.Fatalf("tidings apply %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return strings.Split(strings.TrimRight(out, "\n"), "\n")
	}
	write(applyFile)

	creates := []string{
		`+ create address list "apply-vip"`,
		`+ create archive "apply-archive"`,
		`+ create relay "apply-relay"`,
		`+ create traffic policy "apply-policy"`,
		`+ create rule set "apply-rules"`,
		`+ create ingress point "apply-inbound"`,
	}
	eq(t, "dry run on an empty server", append(creates, "6 of 6 resources would change"), apply("--dry-run"))
	if n := len(at(s.BatchOK(t, call{Op: "list_archives"})[0], "Archives").([]any)); n != 0 {
		t.Fatalf("--dry-run created %d archives", n)
	}

	eq(t, "first apply", append(creates, "6 of 6 resources changed"), apply())

	// Everything exists and refers to the right things (read with boto3 in
	// one process: the client is not what this test is about).
	kinds := []struct{ op, list, idField, nameField, name string }{
		{"list_address_lists", "AddressLists", "AddressListId", "AddressListName", "apply-vip"},
		{"list_archives", "Archives", "ArchiveId", "ArchiveName", "apply-archive"},
		{"list_relays", "Relays", "RelayId", "RelayName", "apply-relay"},
		{"list_traffic_policies", "TrafficPolicies", "TrafficPolicyId", "TrafficPolicyName", "apply-policy"},
		{"list_rule_sets", "RuleSets", "RuleSetId", "RuleSetName", "apply-rules"},
		{"list_ingress_points", "IngressPoints", "IngressPointId", "IngressPointName", "apply-inbound"},
	}
	var lists []call
	for _, k := range kinds {
		lists = append(lists, call{Op: k.op})
	}
	ids := map[string]string{}
	for i, res := range s.BatchOK(t, lists...) {
		k := kinds[i]
		item := findBy(res, k.list, k.nameField, k.name)
		if item == nil {
			t.Fatalf("%s lacks %s after apply: %s", k.op, k.name, js(res))
		}
		ids[k.name] = item[k.idField].(string)
	}
	got := s.BatchOK(t,
		call{Op: "get_ingress_point", Params: map[string]any{"IngressPointId": ids["apply-inbound"]}},
		call{Op: "get_rule_set", Params: map[string]any{"RuleSetId": ids["apply-rules"]}},
		call{Op: "get_address_list", Params: map[string]any{"AddressListId": ids["apply-vip"]}},
		call{Op: "get_relay", Params: map[string]any{"RelayId": ids["apply-relay"]}},
		call{Op: "get_traffic_policy", Params: map[string]any{"TrafficPolicyId": ids["apply-policy"]}},
	)
	ip, rules := got[0], got[1]
	eqAt(t, ip, "RuleSetId", ids["apply-rules"])
	eqAt(t, ip, "TrafficPolicyId", ids["apply-policy"])
	eqAt(t, ip, "Type", "OPEN")
	checkARecord(t, s, str(t, ip, "ARecord"))
	eqAt(t, rules, "Rules.0.Actions.0.Relay.Relay", ids["apply-relay"])
	eqAt(t, rules, "Rules.0.Conditions.0.BooleanExpression.Evaluate.IsInAddressList.AddressLists", []string{str(t, got[2], "AddressListArn")})
	eqAt(t, rules, "Rules.1.Actions.0.Archive.TargetArchive", "apply-archive")
	eqAt(t, got[3], "ServerPort", 587)
	eqAt(t, got[4], "MaxMessageSizeBytes", 10485760)
	eqAt(t, got[4], "DefaultAction", "DENY")

	unchanged := []string{
		`= unchanged address list "apply-vip"`,
		`= unchanged archive "apply-archive"`,
		`= unchanged relay "apply-relay"`,
		`= unchanged traffic policy "apply-policy"`,
		`= unchanged rule set "apply-rules"`,
		`= unchanged ingress point "apply-inbound"`,
	}
	eq(t, "second apply", append(unchanged, "0 of 6 resources changed"), apply())

	// Edit two resources: the dry run shows the diff and changes nothing.
	edited := strings.Replace(applyFile, "ServerPort: 587", "ServerPort: 2525", 1)
	edited = strings.Replace(edited, "RetentionPeriod: ONE_YEAR", "RetentionPeriod: TWO_YEARS", 1)
	write(edited)
	dry := apply("--dry-run")
	wantDry := []string{
		`= unchanged address list "apply-vip"`,
		`~ update archive "apply-archive"`,
		`    Retention: {"RetentionPeriod":"ONE_YEAR"} → {"RetentionPeriod":"TWO_YEARS"}`,
		`~ update relay "apply-relay"`,
		`    ServerPort: 587 → 2525`,
		`= unchanged traffic policy "apply-policy"`,
		`= unchanged rule set "apply-rules"`,
		`= unchanged ingress point "apply-inbound"`,
		"2 of 6 resources would change",
	}
	eq(t, "dry run of the edited file", wantDry, dry)
	eqAt(t, s.BatchOK(t, call{Op: "get_relay", Params: map[string]any{"RelayId": ids["apply-relay"]}})[0], "ServerPort", 587)

	out := apply()
	eq(t, "apply of the edited file", append(wantDry[:len(wantDry)-1:len(wantDry)-1], "2 of 6 resources changed"), out)
	got = s.BatchOK(t,
		call{Op: "get_relay", Params: map[string]any{"RelayId": ids["apply-relay"]}},
		call{Op: "get_archive", Params: map[string]any{"ArchiveId": ids["apply-archive"]}},
	)
	eqAt(t, got[0], "ServerPort", 2525)
	eqAt(t, got[1], "Retention", map[string]any{"RetentionPeriod": "TWO_YEARS"})
	eq(t, "apply after the edit", append(unchanged, "0 of 6 resources changed"), apply())

	// A file that names a missing resource fails and says which.
	write(strings.Replace(edited, "TrafficPolicyId: apply-policy", "TrafficPolicyId: no-such-policy", 1))
	stdout, stderr, code := run(t, s.clientEnv("", ""), nil, tidingsBin, "apply", "-f", file)
	if code == 0 || !strings.Contains(stderr+stdout, "no-such-policy") {
		t.Errorf("apply naming a missing traffic policy: exit %d, want failure naming it\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}
