package mailmanager_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/model/smithy"
)

func ptr[T any](v T) *T { return &v }

// violations returns the violations of err, which must be a
// *smithy.ValidationError.
func violations(t *testing.T, err error) []smithy.Violation {
	t.Helper()
	var ve *smithy.ValidationError
	require.True(t, errors.As(err, &ve), "want *smithy.ValidationError, got %v", err)
	return ve.Violations
}

func TestCreateRuleSetRequestRequired(t *testing.T) {
	t.Parallel()
	err := (&mailmanager.CreateRuleSetRequest{}).Validate()
	require.EqualError(t, err, "2 validation errors detected: "+
		"Value null at 'ruleSetName' failed to satisfy constraint: Member must not be null; "+
		"Value null at 'rules' failed to satisfy constraint: Member must not be null")
	require.Equal(t, []smithy.Violation{
		{Path: "ruleSetName", Value: "null", Constraint: "Member must not be null"},
		{Path: "rules", Value: "null", Constraint: "Member must not be null"},
	}, violations(t, err))
}

func TestCreateRuleSetRequestValid(t *testing.T) {
	t.Parallel()
	in := &mailmanager.CreateRuleSetRequest{
		RuleSetName: ptr("inbound.rules-1"),
		ClientToken: ptr("token"),
		Rules: []mailmanager.Rule{{
			Name: ptr("relay-all"),
			Actions: []mailmanager.RuleAction{
				{Relay: &mailmanager.RelayAction{Relay: ptr("r-1"), ActionFailurePolicy: ptr(mailmanager.ActionFailurePolicyDrop)}},
				{Drop: &mailmanager.DropAction{}},
			},
		}},
		Tags: []mailmanager.Tag{{Key: ptr("env"), Value: ptr("prod")}},
	}
	require.NoError(t, in.Validate())
	// An empty rule list is allowed (no min), a nil one is not.
	in.Rules = []mailmanager.Rule{}
	require.NoError(t, in.Validate())
}

func TestCreateRuleSetRequestViolations(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 101)
	tests := []struct {
		name string
		in   *mailmanager.CreateRuleSetRequest
		want []smithy.Violation
	}{
		{
			name: "union with two members set",
			in: &mailmanager.CreateRuleSetRequest{RuleSetName: ptr("rs"), Rules: []mailmanager.Rule{{
				Actions: []mailmanager.RuleAction{
					{Drop: &mailmanager.DropAction{}},
					{Drop: &mailmanager.DropAction{}, Relay: &mailmanager.RelayAction{Relay: ptr("r-1")}},
				},
			}}},
			want: []smithy.Violation{{
				Path: "rules.1.member.actions.2.member", Value: "'{Drop, Relay}'",
				Constraint: "Member must have exactly one member set",
			}},
		},
		{
			name: "union with no member set",
			in: &mailmanager.CreateRuleSetRequest{RuleSetName: ptr("rs"), Rules: []mailmanager.Rule{
				{Actions: []mailmanager.RuleAction{{Drop: &mailmanager.DropAction{}}}},
				{Actions: []mailmanager.RuleAction{{}}},
			}},
			want: []smithy.Violation{{
				Path: "rules.2.member.actions.1.member", Value: "'{}'",
				Constraint: "Member must have exactly one member set",
			}},
		},
		{
			name: "nested required member and enum out of set",
			in: &mailmanager.CreateRuleSetRequest{RuleSetName: ptr("rs"), Rules: []mailmanager.Rule{{
				Actions: []mailmanager.RuleAction{
					{Relay: &mailmanager.RelayAction{ActionFailurePolicy: ptr(mailmanager.ActionFailurePolicy("BOGUS"))}},
				},
			}}},
			want: []smithy.Violation{
				{
					Path: "rules.1.member.actions.1.member.relay.actionFailurePolicy", Value: "'BOGUS'",
					Constraint: "Member must satisfy enum value set: [CONTINUE, DROP]",
				},
				{Path: "rules.1.member.actions.1.member.relay.relay", Value: "null", Constraint: "Member must not be null"},
			},
		},
		{
			name: "string over max length",
			in:   &mailmanager.CreateRuleSetRequest{RuleSetName: ptr(long), Rules: []mailmanager.Rule{}},
			want: []smithy.Violation{{
				Path: "ruleSetName", Value: "'" + long + "'",
				Constraint: "Member must have length less than or equal to 100",
			}},
		},
		{
			name: "empty string fails min length and pattern",
			in:   &mailmanager.CreateRuleSetRequest{RuleSetName: ptr(""), Rules: []mailmanager.Rule{}},
			want: []smithy.Violation{
				{Path: "ruleSetName", Value: "''", Constraint: "Member must have length greater than or equal to 1"},
				{Path: "ruleSetName", Value: "''", Constraint: "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
			},
		},
		{
			name: "pattern must match the whole value",
			in:   &mailmanager.CreateRuleSetRequest{RuleSetName: ptr("ok name"), Rules: []mailmanager.Rule{}},
			want: []smithy.Violation{{
				Path: "ruleSetName", Value: "'ok name'",
				Constraint: "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
			}},
		},
		{
			name: "list under min length",
			in: &mailmanager.CreateRuleSetRequest{RuleSetName: ptr("rs"), Rules: []mailmanager.Rule{
				{Actions: []mailmanager.RuleAction{}},
			}},
			want: []smithy.Violation{{
				Path: "rules.1.member.actions", Value: "'[]'",
				Constraint: "Member must have length greater than or equal to 1",
			}},
		},
		{
			name: "sensitive value is not printed",
			in: &mailmanager.CreateRuleSetRequest{RuleSetName: ptr("rs"), Rules: []mailmanager.Rule{{
				Actions: []mailmanager.RuleAction{{Drop: &mailmanager.DropAction{}}},
				Conditions: []mailmanager.RuleCondition{{StringExpression: &mailmanager.RuleStringExpression{
					Evaluate: &mailmanager.RuleStringToEvaluate{Attribute: ptr(mailmanager.RuleStringEmailAttributeSubject)},
					Operator: ptr(mailmanager.RuleStringOperatorContains),
					Values:   []string{strings.Repeat("s", 4097)},
				}}},
			}}},
			want: []smithy.Violation{{
				Path: "rules.1.member.conditions.1.member.stringExpression.values.1.member", Value: "'***'",
				Constraint: "Member must have length less than or equal to 4096",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, violations(t, tt.in.Validate()))
		})
	}
}

func TestLongValueIsCut(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("b", 300)
	vs := violations(t, (&mailmanager.CreateRuleSetRequest{RuleSetName: ptr(long), Rules: []mailmanager.Rule{}}).Validate())
	require.Len(t, vs, 1)
	require.Equal(t, "'"+strings.Repeat("b", 256)+"...'", vs[0].Value)
}

func TestIntegerBounds(t *testing.T) {
	t.Parallel()
	in := &mailmanager.ListRuleSetsRequest{PageSize: ptr(int64(51))}
	require.EqualError(t, in.Validate(), "1 validation error detected: "+
		"Value 51 at 'pageSize' failed to satisfy constraint: Member must have value less than or equal to 50")
	in.PageSize = ptr(int64(0))
	require.EqualError(t, in.Validate(), "1 validation error detected: "+
		"Value 0 at 'pageSize' failed to satisfy constraint: Member must have value greater than or equal to 1")
	in.PageSize = ptr(int64(50))
	require.NoError(t, in.Validate())
}

func TestTimeJSONRoundTrip(t *testing.T) {
	t.Parallel()
	created := time.Date(2023, 11, 14, 22, 13, 20, 500*int(time.Millisecond), time.UTC)
	out := &mailmanager.GetRuleSetResponse{
		CreatedDate: smithy.NewTime(created),
		RuleSetId:   ptr("rs-1"),
		Rules:       []mailmanager.Rule{},
	}
	b, err := json.Marshal(out)
	require.NoError(t, err)
	require.JSONEq(t, `{"CreatedDate":1700000000.5,"RuleSetId":"rs-1","Rules":[]}`, string(b))

	var back mailmanager.GetRuleSetResponse
	require.NoError(t, json.Unmarshal([]byte(`{"CreatedDate":1700000000.5,"LastModificationDate":1700000001,"RuleSetId":"rs-1"}`), &back))
	require.True(t, created.Equal(back.CreatedDate.Time), "got %v", back.CreatedDate)
	require.Equal(t, int64(1700000001), back.LastModificationDate.Unix())
	require.Equal(t, "rs-1", *back.RuleSetId)
}

func TestJSONDecodeThenValidate(t *testing.T) {
	t.Parallel()
	var in mailmanager.CreateRuleSetRequest
	require.NoError(t, json.Unmarshal([]byte(`{
		"RuleSetName": "rs",
		"Rules": [{"Actions": [{"Drop": {}}, {"Archive": {"TargetArchive": "a-1"}, "Drop": {}}]}]
	}`), &in))
	require.Equal(t, []smithy.Violation{{
		Path: "rules.1.member.actions.2.member", Value: "'{Archive, Drop}'",
		Constraint: "Member must have exactly one member set",
	}}, violations(t, in.Validate()))
}

func TestServiceTable(t *testing.T) {
	t.Parallel()
	svc := mailmanager.Service
	require.Equal(t, smithy.AWSJSON10, svc.Protocol)
	require.Equal(t, "MailManagerSvc", svc.TargetPrefix)
	require.Equal(t, "ses", svc.SigningName)
	op := svc.Operations["CreateRuleSet"]
	require.NotNil(t, op)
	require.Equal(t, "CreateRuleSet", op.Name)
	require.True(t, op.Idempotent)
	require.Equal(t, "ClientToken", op.IdempotencyToken)
	require.Equal(t, []string{"ValidationException", "ServiceQuotaExceededException", "ConflictException"}, op.Errors)
	require.IsType(t, &mailmanager.CreateRuleSetRequest{}, op.NewInput())
	require.IsType(t, &mailmanager.CreateRuleSetResponse{}, op.NewOutput())
	require.True(t, svc.Operations["GetRuleSet"].ReadOnly)
	require.Equal(t, &smithy.ErrorShape{Name: "ValidationException", Code: "ValidationException", HTTPStatus: 400, Sender: true},
		svc.Errors["ValidationException"])
}
