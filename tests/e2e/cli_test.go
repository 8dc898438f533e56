package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCLI drives every Mail Manager resource type through the AWS CLI:
// create, get, update, list, delete, tags, and the errors a user meets.
func TestCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})

	t.Run("STSGetCallerIdentity", func(t *testing.T) {
		t.Parallel()
		out := s.AWS(t, "sts", "get-caller-identity")
		eqAt(t, out, "Account", accountID)
		eqAt(t, out, "Arn", "arn:aws:iam::"+accountID+":root")
		if at(out, "UserId") == nil {
			t.Errorf("UserId missing: %s", js(out))
		}
	})

	t.Run("TrafficPolicy", func(t *testing.T) { t.Parallel(); cliTrafficPolicy(t, s) })
	t.Run("Relay", func(t *testing.T) { t.Parallel(); cliRelay(t, s) })
	t.Run("Archive", func(t *testing.T) { t.Parallel(); cliArchive(t, s) })
	t.Run("RuleSet", func(t *testing.T) { t.Parallel(); cliRuleSet(t, s) })
	t.Run("IngressPoint", func(t *testing.T) { t.Parallel(); cliIngressPoint(t, s) })
	t.Run("AddressList", func(t *testing.T) { t.Parallel(); cliAddressList(t, s) })
	t.Run("Tags", func(t *testing.T) { t.Parallel(); cliTags(t, s) })
}

func cliTrafficPolicy(t *testing.T, s *Server) {
	statements := []any{map[string]any{
		"Action": "ALLOW",
		"Conditions": []any{map[string]any{"IpExpression": map[string]any{
			"Evaluate": map[string]any{"Attribute": "SENDER_IP"},
			"Operator": "CIDR_MATCHES",
			"Values":   []any{"10.0.0.0/8", "192.0.2.0/24"},
		}}},
	}, map[string]any{
		"Action": "DENY",
		"Conditions": []any{map[string]any{"StringExpression": map[string]any{
			"Evaluate": map[string]any{"Attribute": "RECIPIENT"},
			"Operator": "ENDS_WITH",
			"Values":   []any{"@blocked.example"},
		}}},
	}}
	out := s.AWS(t, "mailmanager", "create-traffic-policy",
		"--traffic-policy-name", "tp-cli",
		"--default-action", "DENY",
		"--max-message-size-bytes", "1048576",
		"--policy-statements", jsonArg(statements),
		"--tags", "Key=team,Value=mail")
	id := str(t, out, "TrafficPolicyId")

	got := s.AWS(t, "mailmanager", "get-traffic-policy", "--traffic-policy-id", id)
	eqAt(t, got, "TrafficPolicyId", id)
	eqAt(t, got, "TrafficPolicyName", "tp-cli")
	eqAt(t, got, "DefaultAction", "DENY")
	eqAt(t, got, "MaxMessageSizeBytes", 1048576)
	eqAt(t, got, "PolicyStatements", statements)
	checkARN(t, "traffic policy", str(t, got, "TrafficPolicyArn"), id)
	created := checkTimestamp(t, got, "CreatedTimestamp")

	tags := s.AWS(t, "mailmanager", "list-tags-for-resource", "--resource-arn", str(t, got, "TrafficPolicyArn"))
	eqAt(t, tags, "Tags", []any{map[string]any{"Key": "team", "Value": "mail"}})

	// A second policy with the same name is a conflict.
	s.AWSFail(t, "ConflictException", "mailmanager", "create-traffic-policy",
		"--traffic-policy-name", "tp-cli", "--default-action", "ALLOW", "--policy-statements", "[]")

	// Update changes what it names and keeps the rest.
	s.AWS(t, "mailmanager", "update-traffic-policy", "--traffic-policy-id", id,
		"--traffic-policy-name", "tp-cli-renamed", "--default-action", "ALLOW", "--max-message-size-bytes", "2048")
	got = s.AWS(t, "mailmanager", "get-traffic-policy", "--traffic-policy-id", id)
	eqAt(t, got, "TrafficPolicyName", "tp-cli-renamed")
	eqAt(t, got, "DefaultAction", "ALLOW")
	eqAt(t, got, "MaxMessageSizeBytes", 2048)
	eqAt(t, got, "PolicyStatements", statements)
	if upd := checkTimestamp(t, got, "LastUpdatedTimestamp"); upd.Before(created) {
		t.Errorf("LastUpdatedTimestamp %s before CreatedTimestamp %s", upd, created)
	}

	list := s.AWS(t, "mailmanager", "list-traffic-policies")
	item := findBy(list, "TrafficPolicies", "TrafficPolicyId", id)
	if item == nil {
		t.Fatalf("list-traffic-policies lacks %s: %s", id, js(list))
	}
	eqAt(t, item, "TrafficPolicyName", "tp-cli-renamed")
	eqAt(t, item, "DefaultAction", "ALLOW")

	s.AWS(t, "mailmanager", "delete-traffic-policy", "--traffic-policy-id", id)
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "get-traffic-policy", "--traffic-policy-id", id)
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "delete-traffic-policy", "--traffic-policy-id", id)
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "update-traffic-policy", "--traffic-policy-id", id, "--default-action", "DENY")
	if findBy(s.AWS(t, "mailmanager", "list-traffic-policies"), "TrafficPolicies", "TrafficPolicyId", id) != nil {
		t.Errorf("deleted traffic policy %s still listed", id)
	}
	// The name is free again.
	out = s.AWS(t, "mailmanager", "create-traffic-policy",
		"--traffic-policy-name", "tp-cli", "--default-action", "ALLOW", "--policy-statements", "[]")
	s.AWS(t, "mailmanager", "delete-traffic-policy", "--traffic-policy-id", str(t, out, "TrafficPolicyId"))
}

func cliRelay(t *testing.T, s *Server) {
	out := s.AWS(t, "mailmanager", "create-relay",
		"--relay-name", "relay-cli",
		"--server-name", "smtp.corp.example",
		"--server-port", "587",
		"--authentication", `{"NoAuthentication":{}}`)
	id := str(t, out, "RelayId")

	got := s.AWS(t, "mailmanager", "get-relay", "--relay-id", id)
	eqAt(t, got, "RelayId", id)
	eqAt(t, got, "RelayName", "relay-cli")
	eqAt(t, got, "ServerName", "smtp.corp.example")
	eqAt(t, got, "ServerPort", 587)
	eqAt(t, got, "Authentication", map[string]any{"NoAuthentication": map[string]any{}})
	checkARN(t, "relay", str(t, got, "RelayArn"), id)
	checkTimestamp(t, got, "CreatedTimestamp")

	// A SecretArn must name a secret Tidings keeps (tidings secrets put).
	secret := "arn:aws:secretsmanager:us-east-1:" + accountID + ":secret:relay-creds-AbCdEf"
	if msg := s.AWSFail(t, "ValidationException", "mailmanager", "update-relay", "--relay-id", id,
		"--server-port", "2525", "--authentication", jsonArg(map[string]any{"SecretArn": secret})); !strings.Contains(msg, secret) {
		t.Errorf("update-relay with an unknown secret: the message does not name it: %s", msg)
	}
	if out, errOut, code := run(t, s.clientEnv("", ""), nil, tidingsBin, "secrets", "put", "relay-creds-AbCdEf",
		"--username", "relay", "--password", "relay-password"); code != 0 || !strings.Contains(out, secret) {
		t.Fatalf("tidings secrets put: exit %d\n%s%s", code, out, errOut)
	}
	s.AWS(t, "mailmanager", "update-relay", "--relay-id", id,
		"--server-port", "2525", "--authentication", jsonArg(map[string]any{"SecretArn": secret}))
	got = s.AWS(t, "mailmanager", "get-relay", "--relay-id", id)
	eqAt(t, got, "RelayName", "relay-cli")
	eqAt(t, got, "ServerName", "smtp.corp.example")
	eqAt(t, got, "ServerPort", 2525)
	eqAt(t, got, "Authentication", map[string]any{"SecretArn": secret})
	checkTimestamp(t, got, "LastModifiedTimestamp")

	list := s.AWS(t, "mailmanager", "list-relays")
	item := findBy(list, "Relays", "RelayId", id)
	if item == nil {
		t.Fatalf("list-relays lacks %s: %s", id, js(list))
	}
	eqAt(t, item, "RelayName", "relay-cli")

	s.AWS(t, "mailmanager", "delete-relay", "--relay-id", id)
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "get-relay", "--relay-id", id)
	if findBy(s.AWS(t, "mailmanager", "list-relays"), "Relays", "RelayId", id) != nil {
		t.Errorf("deleted relay %s still listed", id)
	}
}

func cliArchive(t *testing.T, s *Server) {
	out := s.AWS(t, "mailmanager", "create-archive",
		"--archive-name", "arch-cli", "--retention", "RetentionPeriod=ONE_YEAR")
	id := str(t, out, "ArchiveId")

	got := s.AWS(t, "mailmanager", "get-archive", "--archive-id", id)
	eqAt(t, got, "ArchiveId", id)
	eqAt(t, got, "ArchiveName", "arch-cli")
	eqAt(t, got, "ArchiveState", "ACTIVE")
	eqAt(t, got, "Retention", map[string]any{"RetentionPeriod": "ONE_YEAR"})
	checkARN(t, "archive", str(t, got, "ArchiveArn"), id)
	checkTimestamp(t, got, "CreatedTimestamp")

	s.AWS(t, "mailmanager", "update-archive", "--archive-id", id,
		"--archive-name", "arch-cli-renamed", "--retention", "RetentionPeriod=TWO_YEARS")
	got = s.AWS(t, "mailmanager", "get-archive", "--archive-id", id)
	eqAt(t, got, "ArchiveName", "arch-cli-renamed")
	eqAt(t, got, "Retention", map[string]any{"RetentionPeriod": "TWO_YEARS"})

	list := s.AWS(t, "mailmanager", "list-archives")
	item := findBy(list, "Archives", "ArchiveId", id)
	if item == nil {
		t.Fatalf("list-archives lacks %s: %s", id, js(list))
	}
	eqAt(t, item, "ArchiveName", "arch-cli-renamed")
	eqAt(t, item, "ArchiveState", "ACTIVE")

	s.AWS(t, "mailmanager", "delete-archive", "--archive-id", id)
	// AWS keeps a deleted archive in PENDING_DELETION for 30 days; Tidings
	// may do that or forget it at once. Either way it is no longer ACTIVE.
	cliArchiveGone(t, s, id)
}

func cliArchiveGone(t *testing.T, s *Server, id string) {
	t.Helper()
	out, errOut, code := run(t, s.clientEnv("", ""), nil, awsBin, "--output", "json", "mailmanager", "get-archive", "--archive-id", id)
	if code == 0 {
		if !strings.Contains(out, `"PENDING_DELETION"`) {
			t.Errorf("get-archive after delete-archive: want ResourceNotFoundException or ArchiveState PENDING_DELETION, got %s", out)
		}
	} else if !strings.Contains(errOut, "(ResourceNotFoundException)") {
		t.Errorf("get-archive after delete-archive: want ResourceNotFoundException, got %s", errOut)
	}
	if item := findBy(s.AWS(t, "mailmanager", "list-archives"), "Archives", "ArchiveId", id); item != nil && item["ArchiveState"] != "PENDING_DELETION" {
		t.Errorf("deleted archive listed as %s", js(item))
	}
}

func cliRuleSet(t *testing.T, s *Server) {
	archive := str(t, s.AWS(t, "mailmanager", "create-archive", "--archive-name", "arch-for-rules"), "ArchiveId")
	relay := str(t, s.AWS(t, "mailmanager", "create-relay", "--relay-name", "relay-for-rules",
		"--server-name", "mx.corp.example", "--server-port", "25", "--authentication", `{"NoAuthentication":{}}`), "RelayId")

	rules := []any{
		map[string]any{
			"Name":    "archive-all",
			"Actions": []any{map[string]any{"Archive": map[string]any{"TargetArchive": archive, "ActionFailurePolicy": "CONTINUE"}}},
		},
		map[string]any{
			"Name": "relay-corp",
			"Conditions": []any{map[string]any{"StringExpression": map[string]any{
				"Evaluate": map[string]any{"Attribute": "RECIPIENT"},
				"Operator": "ENDS_WITH",
				"Values":   []any{"@corp.example"},
			}}},
			"Unless": []any{map[string]any{"NumberExpression": map[string]any{
				"Evaluate": map[string]any{"Attribute": "MESSAGE_SIZE"},
				"Operator": "GREATER_THAN",
				"Value":    10485760.0,
			}}},
			"Actions": []any{
				map[string]any{"AddHeader": map[string]any{"HeaderName": "X-Tidings-Route", "HeaderValue": "corp"}},
				map[string]any{"Relay": map[string]any{"Relay": relay, "MailFrom": "PRESERVE"}},
			},
		},
	}
	out := s.AWS(t, "mailmanager", "create-rule-set", "--rule-set-name", "rs-cli", "--rules", jsonArg(rules))
	id := str(t, out, "RuleSetId")

	got := s.AWS(t, "mailmanager", "get-rule-set", "--rule-set-id", id)
	eqAt(t, got, "RuleSetId", id)
	eqAt(t, got, "RuleSetName", "rs-cli")
	eqAt(t, got, "Rules", rules)
	checkARN(t, "rule set", str(t, got, "RuleSetArn"), id)
	checkTimestamp(t, got, "CreatedDate")
	checkTimestamp(t, got, "LastModificationDate")

	// Referential integrity: actions must name existing resources, and what
	// a rule set uses cannot be deleted.
	for _, bad := range []map[string]any{
		{"Archive": map[string]any{"TargetArchive": "a-doesnotexist0000000000000000"}},
		{"Relay": map[string]any{"Relay": "r-doesnotexist"}},
	} {
		code := cliErrorCode(t, s, "mailmanager", "create-rule-set", "--rule-set-name", "rs-dangling-"+randomSuffix(),
			"--rules", jsonArg([]any{map[string]any{"Name": "r", "Actions": []any{bad}}}))
		if code != "ValidationException" && code != "ResourceNotFoundException" {
			t.Errorf("create-rule-set with action %s naming nothing: got %q, want ValidationException or ResourceNotFoundException", js(bad), code)
		}
	}
	msg := s.AWSFail(t, "ConflictException", "mailmanager", "delete-archive", "--archive-id", archive)
	if !strings.Contains(msg, id) && !strings.Contains(msg, "rs-cli") {
		t.Errorf("ConflictException deleting a used archive should say what uses it (rule set %s / rs-cli): %q", id, msg)
	}
	s.AWSFail(t, "ConflictException", "mailmanager", "delete-relay", "--relay-id", relay)

	// Update: keep only the archive rule; the relay is then free.
	rules2 := rules[:1]
	s.AWS(t, "mailmanager", "update-rule-set", "--rule-set-id", id, "--rule-set-name", "rs-cli-v2", "--rules", jsonArg(rules2))
	got = s.AWS(t, "mailmanager", "get-rule-set", "--rule-set-id", id)
	eqAt(t, got, "RuleSetName", "rs-cli-v2")
	eqAt(t, got, "Rules", rules2)
	s.AWS(t, "mailmanager", "delete-relay", "--relay-id", relay)

	list := s.AWS(t, "mailmanager", "list-rule-sets")
	item := findBy(list, "RuleSets", "RuleSetId", id)
	if item == nil {
		t.Fatalf("list-rule-sets lacks %s: %s", id, js(list))
	}
	eqAt(t, item, "RuleSetName", "rs-cli-v2")

	s.AWS(t, "mailmanager", "delete-rule-set", "--rule-set-id", id)
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "get-rule-set", "--rule-set-id", id)
	// Nothing uses the archive any more.
	s.AWS(t, "mailmanager", "delete-archive", "--archive-id", archive)
}

func cliIngressPoint(t *testing.T, s *Server) {
	tp := str(t, s.AWS(t, "mailmanager", "create-traffic-policy", "--traffic-policy-name", "tp-for-ingress",
		"--default-action", "ALLOW", "--policy-statements", "[]"), "TrafficPolicyId")
	dropRules := jsonArg([]any{map[string]any{"Name": "drop", "Actions": []any{map[string]any{"Drop": map[string]any{}}}}})
	rs := str(t, s.AWS(t, "mailmanager", "create-rule-set", "--rule-set-name", "rs-for-ingress", "--rules", dropRules), "RuleSetId")
	rs2 := str(t, s.AWS(t, "mailmanager", "create-rule-set", "--rule-set-name", "rs-for-ingress-2", "--rules", dropRules), "RuleSetId")

	out := s.AWS(t, "mailmanager", "create-ingress-point",
		"--ingress-point-name", "ip-cli", "--type", "OPEN",
		"--rule-set-id", rs, "--traffic-policy-id", tp,
		"--tags", "Key=env,Value=test")
	id := str(t, out, "IngressPointId")

	got := s.AWS(t, "mailmanager", "get-ingress-point", "--ingress-point-id", id)
	eqAt(t, got, "IngressPointId", id)
	eqAt(t, got, "IngressPointName", "ip-cli")
	eqAt(t, got, "Type", "OPEN")
	eqAt(t, got, "RuleSetId", rs)
	eqAt(t, got, "TrafficPolicyId", tp)
	checkARN(t, "ingress point", str(t, got, "IngressPointArn"), id)
	checkTimestamp(t, got, "CreatedTimestamp")
	if st := at(got, "Status"); st != "ACTIVE" && st != "PROVISIONING" {
		t.Errorf("Status = %v, want ACTIVE (or PROVISIONING)", st)
	}
	port := checkARecord(t, s, str(t, got, "ARecord"))

	// A second ingress point gets another port; an AUTH one without a
	// TLS policy gets REQUIRED (no password in clear).
	id2 := str(t, s.AWS(t, "mailmanager", "create-ingress-point",
		"--ingress-point-name", "ip-cli-auth", "--type", "AUTH",
		"--ingress-point-configuration", "SmtpPassword=Secr3t-Passw0rd",
		"--rule-set-id", rs, "--traffic-policy-id", tp), "IngressPointId")
	got2 := s.AWS(t, "mailmanager", "get-ingress-point", "--ingress-point-id", id2)
	eqAt(t, got2, "Type", "AUTH")
	eqAt(t, got2, "TlsPolicy", "REQUIRED")
	if at(got2, "IngressPointAuthConfiguration.IngressPointPasswordConfiguration") == nil {
		t.Errorf("AUTH ingress point without IngressPointAuthConfiguration.IngressPointPasswordConfiguration: %s", js(got2))
	}
	if port2 := checkARecord(t, s, str(t, got2, "ARecord")); port2 == port {
		t.Errorf("two ingress points share port %d", port)
	}
	if strings.Contains(js(got2), "Secr3t-Passw0rd") {
		t.Errorf("get-ingress-point returns the SMTP password in clear: %s", js(got2))
	}

	// A port chosen with the tidings:port tag; another ingress point cannot
	// take it; tagging an existing one moves it.
	want := s.SMTPLast
	id3 := str(t, s.AWS(t, "mailmanager", "create-ingress-point",
		"--ingress-point-name", "ip-cli-port", "--type", "OPEN", "--rule-set-id", rs, "--traffic-policy-id", tp,
		"--tags", fmt.Sprintf("Key=tidings:port,Value=%d", want)), "IngressPointId")
	got3 := s.AWS(t, "mailmanager", "get-ingress-point", "--ingress-point-id", id3)
	eqAt(t, got3, "ARecord", fmt.Sprintf("127.0.0.1:%d", want))
	s.AWSFail(t, "ConflictException", "mailmanager", "create-ingress-point",
		"--ingress-point-name", "ip-cli-port-taken", "--type", "OPEN", "--rule-set-id", rs, "--traffic-policy-id", tp,
		"--tags", fmt.Sprintf("Key=tidings:port,Value=%d", want))
	s.AWSFail(t, "ValidationException", "mailmanager", "create-ingress-point",
		"--ingress-point-name", "ip-cli-port-bad", "--type", "OPEN", "--rule-set-id", rs, "--traffic-policy-id", tp,
		"--tags", "Key=tidings:port,Value=70000")
	s.AWS(t, "mailmanager", "tag-resource", "--resource-arn", str(t, got3, "IngressPointArn"),
		"--tags", fmt.Sprintf("Key=tidings:port,Value=%d", want-1))
	eqAt(t, s.AWS(t, "mailmanager", "get-ingress-point", "--ingress-point-id", id3), "ARecord", fmt.Sprintf("127.0.0.1:%d", want-1))
	s.AWS(t, "mailmanager", "delete-ingress-point", "--ingress-point-id", id3)

	// Its rule set and traffic policy must exist, and cannot be deleted while used.
	// (The model lists no ResourceNotFoundException for CreateIngressPoint;
	// ValidationException is what an SDK can model.)
	for _, args := range [][]string{{"--rule-set-id", "rs-doesnotexist", "--traffic-policy-id", tp}, {"--rule-set-id", rs, "--traffic-policy-id", "tp-doesnotexist"}} {
		code := cliErrorCode(t, s, append([]string{"mailmanager", "create-ingress-point", "--ingress-point-name", "ip-dangling", "--type", "OPEN"}, args...)...)
		if code != "ValidationException" && code != "ResourceNotFoundException" {
			t.Errorf("create-ingress-point %v: got %q, want ValidationException or ResourceNotFoundException", args, code)
		}
	}
	s.AWSFail(t, "ConflictException", "mailmanager", "delete-rule-set", "--rule-set-id", rs)
	s.AWSFail(t, "ConflictException", "mailmanager", "delete-traffic-policy", "--traffic-policy-id", tp)

	s.AWS(t, "mailmanager", "update-ingress-point", "--ingress-point-id", id,
		"--ingress-point-name", "ip-cli-renamed", "--rule-set-id", rs2)
	got = s.AWS(t, "mailmanager", "get-ingress-point", "--ingress-point-id", id)
	eqAt(t, got, "IngressPointName", "ip-cli-renamed")
	eqAt(t, got, "RuleSetId", rs2)
	eqAt(t, got, "TrafficPolicyId", tp)
	eqAt(t, got, "ARecord", fmt.Sprintf("127.0.0.1:%d", port))
	checkTimestamp(t, got, "LastUpdatedTimestamp")

	s.AWS(t, "mailmanager", "update-ingress-point", "--ingress-point-id", id, "--status-to-update", "CLOSED")
	eqAt(t, s.AWS(t, "mailmanager", "get-ingress-point", "--ingress-point-id", id), "Status", "CLOSED")

	list := s.AWS(t, "mailmanager", "list-ingress-points")
	item := findBy(list, "IngressPoints", "IngressPointId", id)
	if item == nil {
		t.Fatalf("list-ingress-points lacks %s: %s", id, js(list))
	}
	eqAt(t, item, "IngressPointName", "ip-cli-renamed")
	eqAt(t, item, "Type", "OPEN")
	eqAt(t, item, "Status", "CLOSED")
	eqAt(t, item, "ARecord", fmt.Sprintf("127.0.0.1:%d", port))

	s.AWS(t, "mailmanager", "delete-ingress-point", "--ingress-point-id", id)
	s.AWS(t, "mailmanager", "delete-ingress-point", "--ingress-point-id", id2)
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "get-ingress-point", "--ingress-point-id", id)
	// Free now.
	s.AWS(t, "mailmanager", "delete-rule-set", "--rule-set-id", rs)
	s.AWS(t, "mailmanager", "delete-rule-set", "--rule-set-id", rs2)
	s.AWS(t, "mailmanager", "delete-traffic-policy", "--traffic-policy-id", tp)
}

// checkARecord asserts an ingress point's ARecord is host:port on the
// configured SMTP host, with the port in the configured range, and returns
// the port.
func checkARecord(t *testing.T, s *Server, a string) int {
	t.Helper()
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		t.Fatalf("ARecord %q: want host:port: %v", a, err)
	}
	if host != "127.0.0.1" {
		t.Errorf("ARecord host %q, want TIDINGS_SMTP_HOST 127.0.0.1", host)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < s.SMTPFirst || port > s.SMTPLast {
		t.Errorf("ARecord port %q not in TIDINGS_SMTP_PORTS %d-%d", p, s.SMTPFirst, s.SMTPLast)
	}
	return port
}

func cliAddressList(t *testing.T, s *Server) {
	out := s.AWS(t, "mailmanager", "create-address-list", "--address-list-name", "al-cli")
	id := str(t, out, "AddressListId")
	got := s.AWS(t, "mailmanager", "get-address-list", "--address-list-id", id)
	eqAt(t, got, "AddressListId", id)
	eqAt(t, got, "AddressListName", "al-cli")
	checkARN(t, "address list", str(t, got, "AddressListArn"), id)
	checkTimestamp(t, got, "CreatedTimestamp")
	checkTimestamp(t, got, "LastUpdatedTimestamp")
	s.AWSFail(t, "ConflictException", "mailmanager", "create-address-list", "--address-list-name", "al-cli")

	// Members one by one.
	s.AWS(t, "mailmanager", "register-member-to-address-list", "--address-list-id", id, "--address", "alice@corp.example")
	s.AWS(t, "mailmanager", "register-member-to-address-list", "--address-list-id", id, "--address", "bob@corp.example")
	m := s.AWS(t, "mailmanager", "get-member-of-address-list", "--address-list-id", id, "--address", "alice@corp.example")
	eqAt(t, m, "Address", "alice@corp.example")
	checkTimestamp(t, m, "CreatedTimestamp")
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "get-member-of-address-list", "--address-list-id", id, "--address", "nobody@corp.example")
	members := s.AWS(t, "mailmanager", "list-members-of-address-list", "--address-list-id", id, "--filter", "AddressPrefix=bob")
	eq(t, "members with prefix bob", []string{"bob@corp.example"}, addresses(members))
	s.AWS(t, "mailmanager", "deregister-member-from-address-list", "--address-list-id", id, "--address", "bob@corp.example")
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "get-member-of-address-list", "--address-list-id", id, "--address", "bob@corp.example")

	// An import job: CSV to the pre-signed URL, start, poll until done.
	job := s.AWS(t, "mailmanager", "create-address-list-import-job", "--address-list-id", id,
		"--name", "import-1", "--import-data-format", "ImportDataType=CSV")
	jobID := str(t, job, "JobId")
	presigned := str(t, job, "PreSignedUrl")
	g := s.AWS(t, "mailmanager", "get-address-list-import-job", "--job-id", jobID)
	eqAt(t, g, "Status", "CREATED")
	eqAt(t, g, "AddressListId", id)
	eqAt(t, g, "Name", "import-1")
	eqAt(t, g, "ImportDataFormat", map[string]any{"ImportDataType": "CSV"})

	csv := "address\ncarol@corp.example\ndave@corp.example\nalice@corp.example\nnot-an-address\n"
	putCSV(t, presigned, csv)
	s.AWS(t, "mailmanager", "start-address-list-import-job", "--job-id", jobID)
	g = waitImportJob(t, s, jobID)
	eqAt(t, g, "Status", "COMPLETED")
	// alice is already a member: AWS counts her as imported (idempotent);
	// the malformed line fails.
	eqAt(t, g, "ImportedItemsCount", 3)
	eqAt(t, g, "FailedItemsCount", 1)
	checkTimestamp(t, g, "StartTimestamp")
	checkTimestamp(t, g, "CompletedTimestamp")

	jobs := s.AWS(t, "mailmanager", "list-address-list-import-jobs", "--address-list-id", id)
	if j := findBy(jobs, "ImportJobs", "JobId", jobID); j == nil {
		t.Errorf("list-address-list-import-jobs lacks %s: %s", jobID, js(jobs))
	} else {
		eqAt(t, j, "Status", "COMPLETED")
	}
	members = s.AWS(t, "mailmanager", "list-members-of-address-list", "--address-list-id", id)
	eq(t, "members after import", []string{"alice@corp.example", "carol@corp.example", "dave@corp.example"}, addresses(members))

	// A job that is never started can be stopped.
	job2 := str(t, s.AWS(t, "mailmanager", "create-address-list-import-job", "--address-list-id", id,
		"--name", "import-2", "--import-data-format", "ImportDataType=CSV"), "JobId")
	s.AWS(t, "mailmanager", "stop-address-list-import-job", "--job-id", job2)
	eqAt(t, s.AWS(t, "mailmanager", "get-address-list-import-job", "--job-id", job2), "Status", "STOPPED")

	list := s.AWS(t, "mailmanager", "list-address-lists")
	if item := findBy(list, "AddressLists", "AddressListId", id); item == nil {
		t.Errorf("list-address-lists lacks %s: %s", id, js(list))
	} else {
		eqAt(t, item, "AddressListName", "al-cli")
	}

	s.AWS(t, "mailmanager", "delete-address-list", "--address-list-id", id)
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "get-address-list", "--address-list-id", id)
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "list-members-of-address-list", "--address-list-id", id)
}

// addresses lists the Address of each member in a ListMembersOfAddressList
// answer, sorted as the server returns them.
func addresses(v any) []string {
	out := []string{}
	list, _ := at(v, "Addresses").([]any)
	for _, m := range list {
		if a, ok := at(m, "Address").(string); ok {
			out = append(out, a)
		}
	}
	return out
}

func putCSV(t *testing.T, presigned, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, presigned, strings.NewReader(body))
	if err != nil {
		t.Fatalf("PreSignedUrl %q: %v", presigned, err)
	}
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT to the pre-signed URL: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the pre-signed URL %s: %s, want 200 OK", presigned, resp.Status)
	}
}

// waitImportJob polls an import job until it leaves CREATED/PROCESSING.
func waitImportJob(t *testing.T, s *Server, jobID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		g := s.AWS(t, "mailmanager", "get-address-list-import-job", "--job-id", jobID)
		switch at(g, "Status") {
		case "CREATED", "PROCESSING":
		default:
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("import job %s still %v after 60s", jobID, at(g, "Status"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func cliTags(t *testing.T, s *Server) {
	out := s.AWS(t, "mailmanager", "create-archive", "--archive-name", "arch-tags", "--tags", "Key=team,Value=mail")
	id := str(t, out, "ArchiveId")
	arn := str(t, s.AWS(t, "mailmanager", "get-archive", "--archive-id", id), "ArchiveArn")

	s.AWS(t, "mailmanager", "tag-resource", "--resource-arn", arn, "--tags", "Key=env,Value=prod", "Key=owner,Value=ops")
	tags := s.AWS(t, "mailmanager", "list-tags-for-resource", "--resource-arn", arn)
	eq(t, "tags after tag-resource", map[string]string{"team": "mail", "env": "prod", "owner": "ops"}, tagMap(tags))

	// Tagging an existing key replaces its value.
	s.AWS(t, "mailmanager", "tag-resource", "--resource-arn", arn, "--tags", "Key=env,Value=staging")
	s.AWS(t, "mailmanager", "untag-resource", "--resource-arn", arn, "--tag-keys", "owner", "team")
	tags = s.AWS(t, "mailmanager", "list-tags-for-resource", "--resource-arn", arn)
	eq(t, "tags after untag-resource", map[string]string{"env": "staging"}, tagMap(tags))

	missing := strings.TrimSuffix(arn, id) + "a-doesnotexist0000000000000000"
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "list-tags-for-resource", "--resource-arn", missing)
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "tag-resource", "--resource-arn", missing, "--tags", "Key=a,Value=b")
	s.AWS(t, "mailmanager", "delete-archive", "--archive-id", id)
}

func tagMap(v any) map[string]string {
	out := map[string]string{}
	list, _ := at(v, "Tags").([]any)
	for _, e := range list {
		k, _ := at(e, "Key").(string)
		val, _ := at(e, "Value").(string)
		out[k] = val
	}
	return out
}

// cliErrorCode runs a CLI command that must fail and returns its error code.
func cliErrorCode(t *testing.T, s *Server, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, s.clientEnv("", ""), nil, awsBin, append([]string{"--output", "json"}, args...)...)
	if code == 0 {
		t.Errorf("aws %s: succeeded, want an error\n%s", strings.Join(args, " "), out)
		return ""
	}
	m := cliErrRe.FindStringSubmatch(errOut)
	if m == nil {
		t.Errorf("aws %s: exit %d without a service error: %s", strings.Join(args, " "), code, errOut)
		return ""
	}
	return m[1]
}
