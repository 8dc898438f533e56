package mailmanager_test

import (
	"fmt"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

func TestIDsARNsAndTimestamps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	archive := b.archive(t, "journal")
	relay := b.relay(t, "google")
	list := b.addressList(t, "journaling")
	policy := b.trafficPolicy(t, "policy")
	ruleSet := b.ruleSet(t, "rules", archive, relay)
	inp, err := b.openIngress(t, "mx-1", ruleSet, policy)
	require.NoError(t, err)
	sub, err := b.svc.CreateAddonSubscription(b.ctx, &mm.CreateAddonSubscriptionRequest{AddonName: p("SPAMHAUS_DBL")})
	require.NoError(t, err)
	inst, err := b.svc.CreateAddonInstance(b.ctx, &mm.CreateAddonInstanceRequest{AddonSubscriptionId: sub.AddonSubscriptionId})
	require.NoError(t, err)

	for _, tc := range []struct {
		id, prefix string
	}{
		{archive, "a-"}, {relay, "rl-"}, {list, "al-"}, {policy, "tp-"}, {ruleSet, "rs-"}, {inp, "inp-"},
		{*sub.AddonSubscriptionId, "as-"}, {*inst.AddonInstanceId, "ai-"},
	} {
		require.Regexp(t, "^"+tc.prefix+"[a-z0-9]{26}$", tc.id)
	}
	// SES v2 checks archive ARNs against this pattern.
	require.Regexp(t, `^a-[a-z0-9]{24,62}$`, archive)

	ga, err := b.svc.GetArchive(b.ctx, &mm.GetArchiveRequest{ArchiveId: p(archive)})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:ses:us-east-1:"+acct1+":mailmanager-archive/"+archive, *ga.ArchiveArn)
	gr, err := b.svc.GetRelay(b.ctx, &mm.GetRelayRequest{RelayId: p(relay)})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:ses:us-east-1:"+acct1+":mailmanager-smtp-relay/"+relay, *gr.RelayArn)
	gi, err := b.svc.GetIngressPoint(b.ctx, &mm.GetIngressPointRequest{IngressPointId: p(inp)})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:ses:us-east-1:"+acct1+":mailmanager-ingress-point/"+inp, *gi.IngressPointArn)
	gs, err := b.svc.GetAddonSubscription(b.ctx, &mm.GetAddonSubscriptionRequest{AddonSubscriptionId: sub.AddonSubscriptionId})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:ses:us-east-1:"+acct1+":addon-subscription/"+*sub.AddonSubscriptionId, *gs.AddonSubscriptionArn)

	// Timestamps: created = updated at creation; an update moves only the latter.
	gt, err := b.svc.GetTrafficPolicy(b.ctx, &mm.GetTrafficPolicyRequest{TrafficPolicyId: p(policy)})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:ses:us-east-1:"+acct1+":mailmanager-traffic-policy/"+policy, *gt.TrafficPolicyArn)
	require.Equal(t, b.clock.Now(), gt.CreatedTimestamp.Time)
	require.Equal(t, gt.CreatedTimestamp.Time, gt.LastUpdatedTimestamp.Time)
	b.clock.Advance(time.Minute)
	_, err = b.svc.UpdateTrafficPolicy(b.ctx, &mm.UpdateTrafficPolicyRequest{TrafficPolicyId: p(policy), MaxMessageSizeBytes: p(int64(10 << 20))})
	require.NoError(t, err)
	gt2, err := b.svc.GetTrafficPolicy(b.ctx, &mm.GetTrafficPolicyRequest{TrafficPolicyId: p(policy)})
	require.NoError(t, err)
	require.Equal(t, gt.CreatedTimestamp.Time, gt2.CreatedTimestamp.Time)
	require.Equal(t, gt.CreatedTimestamp.Time.Add(time.Minute), gt2.LastUpdatedTimestamp.Time)
	require.Equal(t, int64(10<<20), *gt2.MaxMessageSizeBytes)
	require.Equal(t, gt.PolicyStatements, gt2.PolicyStatements, "statements not given are kept")

	// Another account sees none of it.
	_, err = b.svc.GetArchive(b.ctx2, &mm.GetArchiveRequest{ArchiveId: p(archive)})
	requireFault(t, err, fault.NotFound, archive)
}

func TestNamesAreUniquePerAccountAndKind(t *testing.T) {
	t.Parallel()
	b := setup(t)
	policy := b.trafficPolicy(t, "same-name")
	ruleSet := b.ruleSet(t, "same-name", "", "")
	_, err := b.openIngress(t, "same-name", ruleSet, policy)
	require.NoError(t, err)

	create := map[string]func() error{
		"archive": func() error {
			_, err := b.svc.CreateArchive(b.ctx, &mm.CreateArchiveRequest{ArchiveName: p("same-name")})
			return err
		},
		"relay": func() error {
			_, err := b.svc.CreateRelay(b.ctx, &mm.CreateRelayRequest{RelayName: p("same-name"), ServerName: p("x.example"),
				ServerPort: p(int64(25)), Authentication: &mm.RelayAuthentication{NoAuthentication: &mm.NoAuthentication{}}})
			return err
		},
		"address list": func() error {
			_, err := b.svc.CreateAddressList(b.ctx, &mm.CreateAddressListRequest{AddressListName: p("same-name")})
			return err
		},
		"traffic policy": func() error {
			_, err := b.svc.CreateTrafficPolicy(b.ctx, trafficPolicyRequest("same-name"))
			return err
		},
		"rule set": func() error {
			_, err := b.svc.CreateRuleSet(b.ctx, ruleSetRequest("same-name", "", ""))
			return err
		},
		"ingress point": func() error {
			_, err := b.openIngress(t, "same-name", ruleSet, policy)
			return err
		},
	}
	for kind, fn := range create {
		if kind != "traffic policy" && kind != "rule set" && kind != "ingress point" {
			require.NoError(t, fn(), kind)
		}
		requireFault(t, fn(), fault.Conflict, "same-name")
	}

	// Names are per account.
	_, err = b.svc.CreateArchive(b.ctx2, &mm.CreateArchiveRequest{ArchiveName: p("same-name")})
	require.NoError(t, err)

	// Renaming onto a taken name conflicts; renaming to itself does not.
	other := b.relay(t, "other")
	_, err = b.svc.UpdateRelay(b.ctx, &mm.UpdateRelayRequest{RelayId: p(other), RelayName: p("same-name")})
	requireFault(t, err, fault.Conflict, "same-name")
	_, err = b.svc.UpdateRelay(b.ctx, &mm.UpdateRelayRequest{RelayId: p(other), RelayName: p("other")})
	require.NoError(t, err)

	// One add-on subscription per add-on.
	_, err = b.svc.CreateAddonSubscription(b.ctx, &mm.CreateAddonSubscriptionRequest{AddonName: p("ABUSIX_MAIL_INTELLIGENCE")})
	require.NoError(t, err)
	_, err = b.svc.CreateAddonSubscription(b.ctx, &mm.CreateAddonSubscriptionRequest{AddonName: p("ABUSIX_MAIL_INTELLIGENCE")})
	requireFault(t, err, fault.Conflict, "ABUSIX_MAIL_INTELLIGENCE")
	_, err = b.svc.CreateAddonSubscription(b.ctx, &mm.CreateAddonSubscriptionRequest{AddonName: p("NOT_AN_ADDON")})
	requireFault(t, err, fault.Invalid, "NOT_AN_ADDON", "TRENDMICRO_VSAPI")
}

func TestReferencesMustExist(t *testing.T) {
	t.Parallel()
	b := setup(t)
	archive := b.archive(t, "keep")
	relay := b.relay(t, "m365")
	list := b.addressList(t, "journal-addresses")
	policy := b.trafficPolicy(t, "policy")
	ruleSet := b.ruleSet(t, "rules", "", "")
	arn := func(typ, id string) string { return "arn:aws:ses:us-east-1:" + acct1 + ":" + typ + "/" + id }

	for _, tc := range []struct {
		name    string
		archive string
		relay   string
		wantErr string // "" = accepted
	}{
		{"archive by ID", archive, "", ""},
		{"archive by ARN", arn("mailmanager-archive", archive), "", ""},
		{"archive by name", "keep", "", ""},
		{"missing archive", "a-doesnotexist0000000000000", "", "a-doesnotexist0000000000000 does not exist"},
		{"archive ARN of another account", "arn:aws:ses:us-east-1:" + acct2 + ":mailmanager-archive/" + archive, "", "is not an ARN of this account's archives"},
		{"relay ARN given as archive", arn("mailmanager-smtp-relay", relay), "", "is not an ARN of this account's archives"},
		{"relay by ID", "", relay, ""},
		{"relay by ARN", "", arn("mailmanager-smtp-relay", relay), ""},
		{"relay by name is not allowed", "", "m365", "m365 does not exist"},
		{"missing relay", "", "rl-nope", "rl-nope does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ruleSetRequest(nonWord.ReplaceAllString(tc.name, "_"), tc.archive, tc.relay)
			require.NoError(t, in.Validate())
			_, err := b.svc.CreateRuleSet(b.ctx, in)
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				requireFault(t, err, fault.Invalid, tc.wantErr)
			}
		})
	}

	// Traffic policy conditions naming address lists, by ID or ARN.
	_, err := b.svc.CreateTrafficPolicy(b.ctx, trafficPolicyRequest("tp-list-id", list))
	require.NoError(t, err)
	_, err = b.svc.CreateTrafficPolicy(b.ctx, trafficPolicyRequest("tp-list-arn", arn("mailmanager-address-list", list)))
	require.NoError(t, err)
	_, err = b.svc.CreateTrafficPolicy(b.ctx, trafficPolicyRequest("tp-list-missing", "al-missing"))
	requireFault(t, err, fault.Invalid, "PolicyStatements[1].Conditions[0]", "al-missing does not exist")

	// Rule conditions: IP values must be addresses or CIDR blocks.
	bad := ruleSetRequest("bad-ip", "", "")
	bad.Rules[0].Conditions = []mm.RuleCondition{{IpExpression: &mm.RuleIpExpression{
		Evaluate: &mm.RuleIpToEvaluate{Attribute: p(mm.RuleIpEmailAttributeSourceIp)},
		Operator: p(mm.RuleIpOperatorCidrMatches),
		Values:   []string{"10.0.0.0/8", "1.2.3.4.5"},
	}}}
	require.NoError(t, bad.Validate(), "the model's pattern lets it through")
	_, err = b.svc.CreateRuleSet(b.ctx, bad)
	requireFault(t, err, fault.Invalid, "Rules[0].Conditions[0]", "1.2.3.4.5")

	// What actions write into messages is checked at once: no CR/LF.
	inject := ruleSetRequest("inject", "", "")
	inject.Rules[0].Actions = []mm.RuleAction{{AddHeader: &mm.AddHeaderAction{HeaderName: p("X-Ok"), HeaderValue: p("a\r\nBcc: victim@outside.test")}}}
	_, err = b.svc.CreateRuleSet(b.ctx, inject)
	requireFault(t, err, fault.Invalid, "action 0")

	// Ingress points: rule set and traffic policy must exist.
	_, err = b.openIngress(t, "no-rules", "rs-missing", policy)
	requireFault(t, err, fault.Invalid, "rs-missing does not exist")
	_, err = b.openIngress(t, "no-policy", ruleSet, "tp-missing")
	requireFault(t, err, fault.Invalid, "tp-missing does not exist")
	inp, err := b.openIngress(t, "mx-1", ruleSet, policy)
	require.NoError(t, err)
	_, err = b.svc.UpdateIngressPoint(b.ctx, &mm.UpdateIngressPointRequest{IngressPointId: p(inp), RuleSetId: p("rs-missing")})
	requireFault(t, err, fault.Invalid, "rs-missing does not exist")

	// A rule set or policy of another account does not count.
	_, err = b.svc.CreateIngressPoint(b.ctx2, &mm.CreateIngressPointRequest{
		IngressPointName: p("theirs"), Type: p(mm.IngressPointTypeOpen), RuleSetId: p(ruleSet), TrafficPolicyId: p(policy),
	})
	requireFault(t, err, fault.Invalid, "does not exist")
}

var nonWord = regexp.MustCompile(`\W`)

func TestDeleteInUseConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	archive := b.archive(t, "arch")
	relay := b.relay(t, "relay")
	list := b.addressList(t, "list")
	policy := b.trafficPolicy(t, "policy", list)
	ruleSet := b.ruleSet(t, "rules", archive, relay)
	inp, err := b.openIngress(t, "mx-endpoint", ruleSet, policy)
	require.NoError(t, err)

	_, err = b.svc.DeleteArchive(b.ctx, &mm.DeleteArchiveRequest{ArchiveId: p(archive)})
	requireFault(t, err, fault.Conflict, "Archive "+archive+" is used by rule set "+ruleSet+" (rules)")
	_, err = b.svc.DeleteRelay(b.ctx, &mm.DeleteRelayRequest{RelayId: p(relay)})
	requireFault(t, err, fault.Conflict, "Relay "+relay+" is used by rule set "+ruleSet+" (rules)")
	_, err = b.svc.DeleteAddressList(b.ctx, &mm.DeleteAddressListRequest{AddressListId: p(list)})
	requireFault(t, err, fault.Conflict, "is used by traffic policy "+policy+" (policy)")
	_, err = b.svc.DeleteRuleSet(b.ctx, &mm.DeleteRuleSetRequest{RuleSetId: p(ruleSet)})
	requireFault(t, err, fault.Conflict, "Rule set "+ruleSet+" is used by ingress point "+inp+" (mx-endpoint)")
	_, err = b.svc.DeleteTrafficPolicy(b.ctx, &mm.DeleteTrafficPolicyRequest{TrafficPolicyId: p(policy)})
	requireFault(t, err, fault.Conflict, "is used by ingress point "+inp)

	// Refs follow updates: the ingress point moves to another rule set, the
	// rule set drops its actions, the policy its list.
	other := b.ruleSet(t, "other", "", "")
	_, err = b.svc.UpdateIngressPoint(b.ctx, &mm.UpdateIngressPointRequest{IngressPointId: p(inp), RuleSetId: p(other)})
	require.NoError(t, err)
	_, err = b.svc.UpdateRuleSet(b.ctx, &mm.UpdateRuleSetRequest{RuleSetId: p(ruleSet), Rules: ruleSetRequest("x", "", relay).Rules})
	require.NoError(t, err)
	_, err = b.svc.DeleteArchive(b.ctx, &mm.DeleteArchiveRequest{ArchiveId: p(archive)})
	require.NoError(t, err, "no rule uses the archive any more")
	_, err = b.svc.DeleteRelay(b.ctx, &mm.DeleteRelayRequest{RelayId: p(relay)})
	requireFault(t, err, fault.Conflict, "is used by rule set")
	_, err = b.svc.DeleteRuleSet(b.ctx, &mm.DeleteRuleSetRequest{RuleSetId: p(ruleSet)})
	require.NoError(t, err, "no ingress point uses it any more")
	_, err = b.svc.DeleteRelay(b.ctx, &mm.DeleteRelayRequest{RelayId: p(relay)})
	require.NoError(t, err)

	_, err = b.svc.UpdateTrafficPolicy(b.ctx, &mm.UpdateTrafficPolicyRequest{TrafficPolicyId: p(policy), PolicyStatements: trafficPolicyRequest("x").PolicyStatements})
	require.NoError(t, err)
	_, err = b.svc.DeleteAddressList(b.ctx, &mm.DeleteAddressListRequest{AddressListId: p(list)})
	require.NoError(t, err)

	_, err = b.svc.DeleteIngressPoint(b.ctx, &mm.DeleteIngressPointRequest{IngressPointId: p(inp)})
	require.NoError(t, err)
	_, err = b.svc.DeleteTrafficPolicy(b.ctx, &mm.DeleteTrafficPolicyRequest{TrafficPolicyId: p(policy)})
	require.NoError(t, err)
	_, err = b.svc.GetTrafficPolicy(b.ctx, &mm.GetTrafficPolicyRequest{TrafficPolicyId: p(policy)})
	requireFault(t, err, fault.NotFound, policy)
	_, err = b.svc.DeleteTrafficPolicy(b.ctx, &mm.DeleteTrafficPolicyRequest{TrafficPolicyId: p(policy)})
	requireFault(t, err, fault.NotFound, policy)
}

func TestAddonReferences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.CreateAddonInstance(b.ctx, &mm.CreateAddonInstanceRequest{AddonSubscriptionId: p("as-missing")})
	requireFault(t, err, fault.NotFound, "as-missing")

	sub, err := b.svc.CreateAddonSubscription(b.ctx, &mm.CreateAddonSubscriptionRequest{AddonName: p("RSPAMD")})
	require.NoError(t, err)
	inst, err := b.svc.CreateAddonInstance(b.ctx, &mm.CreateAddonInstanceRequest{AddonSubscriptionId: sub.AddonSubscriptionId})
	require.NoError(t, err)
	gi, err := b.svc.GetAddonInstance(b.ctx, &mm.GetAddonInstanceRequest{AddonInstanceId: inst.AddonInstanceId})
	require.NoError(t, err)
	require.Equal(t, "RSPAMD", *gi.AddonName)
	require.Equal(t, *sub.AddonSubscriptionId, *gi.AddonSubscriptionId)

	in := ruleSetRequest("scan", "", "")
	in.Rules[0].Conditions = []mm.RuleCondition{{BooleanExpression: &mm.RuleBooleanExpression{
		Evaluate: &mm.RuleBooleanToEvaluate{Analysis: &mm.Analysis{Analyzer: gi.AddonInstanceArn, ResultField: p("addon.is_spam")}},
		Operator: p(mm.RuleBooleanOperatorIsTrue),
	}}}
	require.NoError(t, in.Validate())
	rs, err := b.svc.CreateRuleSet(b.ctx, in)
	require.NoError(t, err)

	_, err = b.svc.DeleteAddonSubscription(b.ctx, &mm.DeleteAddonSubscriptionRequest{AddonSubscriptionId: sub.AddonSubscriptionId})
	requireFault(t, err, fault.Conflict, "is used by add-on instance "+*inst.AddonInstanceId)
	_, err = b.svc.DeleteAddonInstance(b.ctx, &mm.DeleteAddonInstanceRequest{AddonInstanceId: inst.AddonInstanceId})
	requireFault(t, err, fault.Conflict, "is used by rule set "+*rs.RuleSetId+" (scan)")

	in.Rules[0].Conditions[0].BooleanExpression.Evaluate.Analysis.Analyzer = p("arn:aws:ses:us-east-1:" + acct1 + ":addon-instance/ai-missing")
	in.RuleSetName = p("scan2")
	_, err = b.svc.CreateRuleSet(b.ctx, in)
	requireFault(t, err, fault.Invalid, "ai-missing")

	// Result fields must exist and fit the condition.
	in.Rules[0].Conditions[0].BooleanExpression.Evaluate.Analysis = &mm.Analysis{Analyzer: inst.AddonInstanceId, ResultField: p("is_virus")}
	_, err = b.svc.CreateRuleSet(b.ctx, in)
	requireFault(t, err, fault.Invalid, `no result field "is_virus"`, "is_spam")
	in.Rules[0].Conditions[0].BooleanExpression.Evaluate.Analysis.ResultField = p("action")
	_, err = b.svc.CreateRuleSet(b.ctx, in)
	requireFault(t, err, fault.Invalid, "cannot be used in a BooleanExpression")
	in.Rules[0].Conditions = []mm.RuleCondition{{VerdictExpression: &mm.RuleVerdictExpression{
		Evaluate: &mm.RuleVerdictToEvaluate{Analysis: &mm.Analysis{Analyzer: inst.AddonInstanceId, ResultField: p("verdict")}},
		Operator: p(mm.RuleVerdictOperatorEquals), Values: []mm.RuleVerdict{mm.RuleVerdictFail},
	}}}
	_, err = b.svc.CreateRuleSet(b.ctx, in)
	require.NoError(t, err)

	// AWS's add-ons are accepted as subscriptions and instances (so AWS
	// configurations load), but a condition on one is refused: Tidings
	// cannot run it, and a condition that never holds would pass mail in
	// silence.
	for _, name := range []string{"TRENDMICRO_VSAPI", "SPAMHAUS_DBL"} {
		sub, err := b.svc.CreateAddonSubscription(b.ctx, &mm.CreateAddonSubscriptionRequest{AddonName: p(name)})
		require.NoError(t, err)
		aws, err := b.svc.CreateAddonInstance(b.ctx, &mm.CreateAddonInstanceRequest{AddonSubscriptionId: sub.AddonSubscriptionId})
		require.NoError(t, err)
		in.RuleSetName = p("scan-" + name)
		in.Rules[0].Conditions[0].VerdictExpression.Evaluate.Analysis.Analyzer = aws.AddonInstanceId
		_, err = b.svc.CreateRuleSet(b.ctx, in)
		requireFault(t, err, fault.Invalid, "is an instance of "+name+", which Tidings cannot run")

		_, err = b.svc.CreateTrafficPolicy(b.ctx, &mm.CreateTrafficPolicyRequest{
			TrafficPolicyName: p("tp-" + name),
			DefaultAction:     p(mm.AcceptActionAllow),
			PolicyStatements: []mm.PolicyStatement{{Action: p(mm.AcceptActionDeny), Conditions: []mm.PolicyCondition{{
				BooleanExpression: &mm.IngressBooleanExpression{
					Evaluate: &mm.IngressBooleanToEvaluate{Analysis: &mm.IngressAnalysis{Analyzer: aws.AddonInstanceId, ResultField: p("is_spam")}},
					Operator: p(mm.IngressBooleanOperatorIsTrue),
				},
			}}}},
		})
		requireFault(t, err, fault.Invalid, "PolicyStatements[0].Conditions[0]", "which Tidings cannot run")
	}

	// A traffic policy on RSPAMD: string and boolean fields.
	_, err = b.svc.CreateTrafficPolicy(b.ctx, &mm.CreateTrafficPolicyRequest{
		TrafficPolicyName: p("no-spam"),
		DefaultAction:     p(mm.AcceptActionAllow),
		PolicyStatements: []mm.PolicyStatement{{Action: p(mm.AcceptActionDeny), Conditions: []mm.PolicyCondition{{
			StringExpression: &mm.IngressStringExpression{
				Evaluate: &mm.IngressStringToEvaluate{Analysis: &mm.IngressAnalysis{Analyzer: gi.AddonInstanceArn, ResultField: p("action")}},
				Operator: p(mm.IngressStringOperatorEquals), Values: []string{"reject"},
			},
		}}}},
	})
	require.NoError(t, err)
}

func TestPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, b.relay(t, fmt.Sprintf("relay-%d", i)))
	}
	sort.Strings(ids)

	var got []string
	var token *string
	pages := 0
	for {
		out, err := b.svc.ListRelays(b.ctx, &mm.ListRelaysRequest{PageSize: p(int64(2)), NextToken: token})
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(out.Relays), 2)
		for _, r := range out.Relays {
			got = append(got, *r.RelayId)
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	require.Equal(t, ids, got)
	require.Equal(t, 3, pages)

	// The default page holds them all; a full page has no NextToken.
	out, err := b.svc.ListRelays(b.ctx, &mm.ListRelaysRequest{})
	require.NoError(t, err)
	require.Len(t, out.Relays, 5)
	require.Nil(t, out.NextToken)
	out, err = b.svc.ListRelays(b.ctx, &mm.ListRelaysRequest{PageSize: p(int64(5))})
	require.NoError(t, err)
	require.Nil(t, out.NextToken)
	// ListRelays' PageSize has no bound in the model: large is clamped.
	out, err = b.svc.ListRelays(b.ctx, &mm.ListRelaysRequest{PageSize: p(int64(1000))})
	require.NoError(t, err)
	require.Len(t, out.Relays, 5)
	_, err = b.svc.ListRelays(b.ctx, &mm.ListRelaysRequest{PageSize: p(int64(0))})
	requireFault(t, err, fault.Invalid, "PageSize")

	// Another account sees an empty list.
	out, err = b.svc.ListRelays(b.ctx2, &mm.ListRelaysRequest{})
	require.NoError(t, err)
	require.Empty(t, out.Relays)
	require.NotNil(t, out.Relays, "an empty list, not a missing one")

	// Bad tokens: garbage, and a token of another listing.
	first, err := b.svc.ListRelays(b.ctx, &mm.ListRelaysRequest{PageSize: p(int64(1))})
	require.NoError(t, err)
	for _, bad := range []string{"!!!not-base64", "Zm9v", *first.NextToken + "x"} {
		_, err = b.svc.ListRelays(b.ctx, &mm.ListRelaysRequest{NextToken: p(bad)})
		requireFault(t, err, fault.Invalid, "NextToken")
	}
	_, err = b.svc.ListArchives(b.ctx, &mm.ListArchivesRequest{NextToken: first.NextToken})
	requireFault(t, err, fault.Invalid, "NextToken")
}

func TestTags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out, err := b.svc.CreateArchive(b.ctx, &mm.CreateArchiveRequest{
		ArchiveName: p("tagged"),
		Tags:        []mm.Tag{{Key: p("team"), Value: p("mail")}, {Key: p("env"), Value: p("prod")}},
	})
	require.NoError(t, err)
	arn := "arn:aws:ses:us-east-1:" + acct1 + ":mailmanager-archive/" + *out.ArchiveId

	tags, err := b.svc.ListTagsForResource(b.ctx, &mm.ListTagsForResourceRequest{ResourceArn: p(arn)})
	require.NoError(t, err)
	require.Equal(t, []mm.Tag{{Key: p("env"), Value: p("prod")}, {Key: p("team"), Value: p("mail")}}, tags.Tags)

	_, err = b.svc.TagResource(b.ctx, &mm.TagResourceRequest{ResourceArn: p(arn), Tags: []mm.Tag{{Key: p("env"), Value: p("dev")}, {Key: p("cost"), Value: p("42")}}})
	require.NoError(t, err)
	_, err = b.svc.UntagResource(b.ctx, &mm.UntagResourceRequest{ResourceArn: p(arn), TagKeys: []string{"team", "absent"}})
	require.NoError(t, err)
	tags, err = b.svc.ListTagsForResource(b.ctx, &mm.ListTagsForResourceRequest{ResourceArn: p(arn)})
	require.NoError(t, err)
	require.Equal(t, []mm.Tag{{Key: p("cost"), Value: p("42")}, {Key: p("env"), Value: p("dev")}}, tags.Tags)

	for _, tc := range []struct {
		name string
		call func() error
		kind fault.Kind
		msg  string
	}{
		{"reserved prefix on create", func() error {
			_, err := b.svc.CreateArchive(b.ctx, &mm.CreateArchiveRequest{ArchiveName: p("x1"), Tags: []mm.Tag{{Key: p("aws:cloudformation"), Value: p("x")}}})
			return err
		}, fault.Invalid, "aws:"},
		{"reserved prefix on tag", func() error {
			_, err := b.svc.TagResource(b.ctx, &mm.TagResourceRequest{ResourceArn: p(arn), Tags: []mm.Tag{{Key: p("AWS:x"), Value: p("x")}}})
			return err
		}, fault.Invalid, "aws:"},
		{"duplicate keys", func() error {
			_, err := b.svc.CreateArchive(b.ctx, &mm.CreateArchiveRequest{ArchiveName: p("x2"), Tags: []mm.Tag{{Key: p("a"), Value: p("1")}, {Key: p("a"), Value: p("2")}}})
			return err
		}, fault.Invalid, "Duplicate"},
		{"unknown resource", func() error {
			_, err := b.svc.ListTagsForResource(b.ctx, &mm.ListTagsForResourceRequest{ResourceArn: p("arn:aws:ses:us-east-1:" + acct1 + ":mailmanager-archive/a-nope")})
			return err
		}, fault.NotFound, "a-nope"},
		{"another account's resource", func() error {
			_, err := b.svc.TagResource(b.ctx2, &mm.TagResourceRequest{ResourceArn: p(arn), Tags: []mm.Tag{{Key: p("k"), Value: p("v")}}})
			return err
		}, fault.NotFound, arn},
		{"another region", func() error {
			_, err := b.svc.ListTagsForResource(b.ctx, &mm.ListTagsForResourceRequest{ResourceArn: p("arn:aws:ses:eu-west-1:" + acct1 + ":mailmanager-archive/" + *out.ArchiveId)})
			return err
		}, fault.NotFound, "eu-west-1"},
		{"over 200 tags", func() error {
			var many []mm.Tag
			for i := range 199 {
				many = append(many, mm.Tag{Key: p(fmt.Sprintf("k%d", i)), Value: p("v")})
			}
			_, err := b.svc.TagResource(b.ctx, &mm.TagResourceRequest{ResourceArn: p(arn), Tags: many})
			return err
		}, fault.QuotaExceeded, "200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireFault(t, tc.call(), tc.kind, tc.msg)
		})
	}

	// Tags go with the resource.
	_, err = b.svc.DeleteArchive(b.ctx, &mm.DeleteArchiveRequest{ArchiveId: out.ArchiveId})
	require.NoError(t, err)
	b.clock.Advance(31 * 24 * time.Hour)
	require.NoError(t, b.svc.PurgeArchive(b.ctx, archivePurge(acct1, *out.ArchiveId)))
	_, err = b.svc.ListTagsForResource(b.ctx, &mm.ListTagsForResourceRequest{ResourceArn: p(arn)})
	requireFault(t, err, fault.NotFound)
}

func TestNoCallerIsDenied(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.ListArchives(t.Context(), &mm.ListArchivesRequest{})
	requireFault(t, err, fault.AccessDenied)
}
