package mailmanager_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailmanager"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// TestInvokeLambdaRetryTimeRange: RetryTimeMinutes takes the model's whole
// range (LambdaRetryTimeMinutes, 0 to 2160) at CreateRuleSet and
// UpdateRuleSet, and nothing outside it, whether or not the request went
// through the wire layer's checks first.
func TestInvokeLambdaRetryTimeRange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rules := func(minutes int64) []mm.Rule {
		return []mm.Rule{{Name: p("fn"), Actions: []mm.RuleAction{{InvokeLambda: &mm.InvokeLambdaAction{
			FunctionArn:      p("arn:aws:lambda:us-east-1:" + acct1 + ":function:f"),
			InvocationType:   p(mm.LambdaInvocationTypeRequestResponse),
			RoleArn:          p("arn:aws:iam::" + acct1 + ":role/x"),
			RetryTimeMinutes: p(minutes),
		}}}}}
	}
	require.Equal(t, int64(2160), int64(mailmanager.MaxLambdaRetryMinutes))
	var id string
	for _, m := range []int64{0, 360, 361, 2160} {
		in := &mm.CreateRuleSetRequest{RuleSetName: p("rs"), Rules: rules(m)}
		require.NoError(t, in.Validate())
		if id == "" {
			out, err := b.svc.CreateRuleSet(b.ctx, in)
			require.NoError(t, err, m)
			id = *out.RuleSetId
			continue
		}
		up := &mm.UpdateRuleSetRequest{RuleSetId: p(id), Rules: rules(m)}
		require.NoError(t, up.Validate())
		_, err := b.svc.UpdateRuleSet(b.ctx, up)
		require.NoError(t, err, m)
	}
	for _, m := range []int64{-1, 2161} {
		in := &mm.CreateRuleSetRequest{RuleSetName: p("bad"), Rules: rules(m)}
		require.Error(t, in.Validate(), m)
		_, err := b.svc.CreateRuleSet(b.ctx, in)
		requireFault(t, err, fault.Invalid, "RetryTimeMinutes", "0 to 2160")
		_, err = b.svc.UpdateRuleSet(b.ctx, &mm.UpdateRuleSetRequest{RuleSetId: p(id), Rules: rules(m)})
		requireFault(t, err, fault.Invalid, "RetryTimeMinutes", "0 to 2160")
	}
}
