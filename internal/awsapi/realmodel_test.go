package awsapi

// Tests against the generated models of the real services, driven by the
// AWS CLI (botocore) where it is installed, as users will drive Tidings.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/model/ses"
	modelsesv2 "github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/model/smithy"
	"github.com/tidings/tidings/internal/model/smsvoice"
	modelsts "github.com/tidings/tidings/internal/model/sts"
)

type realBundle struct {
	srv     *Server
	url     string
	metrics *recMetrics
	last    chan any
}

func setupReal(t *testing.T) *realBundle {
	t.Helper()
	rb := &realBundle{metrics: &recMetrics{}, last: make(chan any, 16)}
	rb.srv = New(Config{
		Region:    testRegion,
		KeyLookup: fakeKeys{},
		Logger:    slog.New(slog.NewTextHandler(&syncBuffer{}, nil)),
		Metrics:   rb.metrics,
	})
	for _, svc := range []*smithy.Service{mailmanager.Service, modelsesv2.Service, ses.Service, modelsts.Service, smsvoice.Service} {
		rb.srv.Register(svc)
	}
	Handle(rb.srv, mailmanager.Service, "ListRuleSets", func(ctx context.Context, in *mailmanager.ListRuleSetsRequest) (*mailmanager.ListRuleSetsResponse, error) {
		rb.last <- in
		return &mailmanager.ListRuleSetsResponse{RuleSets: []mailmanager.RuleSet{{
			RuleSetId: aws.String("rs-0123"), RuleSetName: aws.String("inbound"), LastModificationDate: smithy.NewTime(fixedDate),
		}}}, nil
	})
	Handle(rb.srv, mailmanager.Service, "GetRuleSet", func(ctx context.Context, in *mailmanager.GetRuleSetRequest) (*mailmanager.GetRuleSetResponse, error) {
		return nil, fault.NotFoundf("Rule set %s does not exist.", aws.ToString(in.RuleSetId))
	})
	Handle(rb.srv, modelsts.Service, "GetCallerIdentity", func(ctx context.Context, in *modelsts.GetCallerIdentityRequest) (*modelsts.GetCallerIdentityResponse, error) {
		p, _ := iam.PrincipalFrom(ctx)
		return &modelsts.GetCallerIdentityResponse{Account: aws.String(p.AccountID), Arn: aws.String(p.ARN), UserId: aws.String(p.AccessKeyID)}, nil
	})
	Handle(rb.srv, modelsesv2.Service, "GetEmailIdentity", func(ctx context.Context, in *modelsesv2.GetEmailIdentityRequest) (*modelsesv2.GetEmailIdentityResponse, error) {
		rb.last <- in
		if aws.ToString(in.EmailIdentity) == "missing@example.com" {
			return nil, fault.NotFoundf("Email identity missing@example.com does not exist.")
		}
		it := modelsesv2.IdentityType("EMAIL_ADDRESS")
		return &modelsesv2.GetEmailIdentityResponse{IdentityType: &it, VerifiedForSendingStatus: aws.Bool(true)}, nil
	})
	Handle(rb.srv, ses.Service, "SendEmail", func(ctx context.Context, in *ses.SendEmailRequest) (*ses.SendEmailResponse, error) {
		rb.last <- in
		return &ses.SendEmailResponse{MessageId: aws.String("0100-real")}, nil
	})
	ts := httptest.NewServer(rb.srv)
	t.Cleanup(ts.Close)
	rb.url = ts.URL
	return rb
}

// cli runs the AWS CLI against the server; it skips the test when the CLI
// is not installed.
func (rb *realBundle) cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append(args, "--output", "json")...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+testKeyID,
		"AWS_SECRET_ACCESS_KEY="+testSecret,
		"AWS_SESSION_TOKEN=",
		"AWS_DEFAULT_REGION="+testRegion,
		"AWS_ENDPOINT_URL="+rb.url,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	require.NoError(t, err, e.String())
	return o.String(), e.String(), 0
}

func TestRealCLIMailManagerListRuleSets(t *testing.T) {
	t.Parallel()
	rb := setupReal(t)
	out, errOut, code := rb.cli(t, "mailmanager", "list-rule-sets", "--page-size", "5")
	require.Equal(t, 0, code, errOut)
	var got struct {
		RuleSets []struct {
			RuleSetId, RuleSetName string
			LastModificationDate   float64 // CLI v1 prints timestamps as received
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Len(t, got.RuleSets, 1)
	require.Equal(t, "rs-0123", got.RuleSets[0].RuleSetId)
	require.Equal(t, 1714979289.5, got.RuleSets[0].LastModificationDate)
	in := (<-rb.last).(*mailmanager.ListRuleSetsRequest)
	require.EqualValues(t, 5, *in.PageSize)

	_, errOut, code = rb.cli(t, "mailmanager", "get-rule-set", "--rule-set-id", "rs-nope")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "An error occurred (ResourceNotFoundException) when calling the GetRuleSet operation: Rule set rs-nope does not exist.")
}

// TestRealCLINotImplemented: an operation without a handler is a 501
// NotImplemented that the CLI prints at once (5xx other than 500, 502,
// 503 and 504 is not retried by botocore, the Go or the JS SDK).
func TestRealCLINotImplemented(t *testing.T) {
	t.Parallel()
	rb := setupReal(t)
	for _, c := range []struct{ args, want []string }{
		{[]string{"mailmanager", "list-relays"}, []string{"ListRelays", "MailManager"}},
		{[]string{"pinpoint-sms-voice-v2", "describe-phone-numbers"}, []string{"DescribePhoneNumbers", "Pinpoint SMS Voice V2"}},
		{[]string{"sesv2", "get-account"}, []string{"GetAccount", "SESv2"}},
		{[]string{"ses", "get-send-quota"}, []string{"GetSendQuota", "SES"}},
	} {
		_, errOut, code := rb.cli(t, c.args...)
		require.NotEqual(t, 0, code)
		require.Contains(t, errOut, fmt.Sprintf("An error occurred (NotImplemented) when calling the %s operation: Tidings does not implement operation %s of service %s yet.", c.want[0], c.want[0], c.want[1]))
	}
	rb.metrics.mu.Lock()
	defer rb.metrics.mu.Unlock()
	require.Len(t, rb.metrics.seen, 4, "not retried")
	for _, s := range rb.metrics.seen {
		require.Equal(t, 501, s.Status)
	}
}

func TestRealCLISTSGetCallerIdentity(t *testing.T) {
	t.Parallel()
	rb := setupReal(t)
	out, errOut, code := rb.cli(t, "sts", "get-caller-identity")
	require.Equal(t, 0, code, errOut)
	var got struct{ UserId, Account, Arn string }
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Equal(t, testAccount, got.Account)
	require.Equal(t, testKeyID, got.UserId)
	require.Equal(t, "arn:aws:iam::"+testAccount+":root", got.Arn)
}

func TestRealCLISESv2GetEmailIdentity(t *testing.T) {
	t.Parallel()
	rb := setupReal(t)
	out, errOut, code := rb.cli(t, "sesv2", "get-email-identity", "--email-identity", "Jane Doe+x@example.com")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"IdentityType": "EMAIL_ADDRESS"`)
	require.Equal(t, "Jane Doe+x@example.com", *(<-rb.last).(*modelsesv2.GetEmailIdentityRequest).EmailIdentity)

	_, errOut, code = rb.cli(t, "sesv2", "get-email-identity", "--email-identity", "missing@example.com")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "An error occurred (NotFoundException) when calling the GetEmailIdentity operation: Email identity missing@example.com does not exist.")
}

func TestRealCLISESSendEmail(t *testing.T) {
	t.Parallel()
	rb := setupReal(t)
	out, errOut, code := rb.cli(t, "ses", "send-email",
		"--from", "sender@example.com",
		"--destination", "ToAddresses=a@example.com,b@example.com",
		"--message", "Subject={Data=Hello},Body={Text={Data=Hi there}}")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"MessageId": "0100-real"`)
	in := (<-rb.last).(*ses.SendEmailRequest)
	require.Equal(t, "sender@example.com", *in.Source)
	require.Equal(t, []string{"a@example.com", "b@example.com"}, in.Destination.ToAddresses)
	require.Equal(t, "Hello", *in.Message.Subject.Data)
	require.Equal(t, "Hi there", *in.Message.Body.Text.Data)
}

// TestRealCBORListRuleSets speaks RPC v2 CBOR to the real Mail Manager model.
func TestRealCBORListRuleSets(t *testing.T) {
	t.Parallel()
	rb := setupReal(t)
	body, err := cbor.Marshal(map[string]any{"PageSize": 2})
	require.NoError(t, err)
	req := (&bundle{ts: &httptest.Server{URL: rb.url}}).newRequest(t, "POST", "/service/MailManagerSvc/operation/ListRuleSets", body,
		map[string]string{"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"})
	resp, rbody := do(t, sign(t, req, body, "ses", time.Now()))
	require.Equal(t, 200, resp.StatusCode, string(rbody))
	var out mailmanager.ListRuleSetsResponse
	require.NoError(t, cbor.Unmarshal(rbody, &out))
	require.Equal(t, "rs-0123", *out.RuleSets[0].RuleSetId)
	require.Equal(t, fixedDate, out.RuleSets[0].LastModificationDate.Time)
	require.EqualValues(t, 2, *(<-rb.last).(*mailmanager.ListRuleSetsRequest).PageSize)
}

// TestRealJSMailManager drives the real Mail Manager model with the AWS SDK
// for JavaScript in both of its protocols. It runs where TIDINGS_NODE_PATH
// names a node_modules holding @aws-sdk/client-mailmanager and
// @aws-sdk/core (npm install them into a temporary directory).
func TestRealJSMailManager(t *testing.T) {
	t.Parallel()
	nodePath := os.Getenv("TIDINGS_NODE_PATH")
	node, err := exec.LookPath("node")
	if nodePath == "" || err != nil {
		t.Skip("TIDINGS_NODE_PATH or node not set up")
	}
	rb := setupReal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/js/mailmanager.cjs")
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodePath, "ENDPOINT="+rb.url, "KEY_ID="+testKeyID, "SECRET="+testSecret, "NODE_NO_WARNINGS=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	type run struct {
		Paths     []string
		RuleSetID string `json:"ruleSetId"`
		Modified  string
		Error     struct {
			Name, Message, RequestID string
			Status                   int
		}
	}
	var got struct{ JSON, CBOR run }
	require.NoError(t, json.Unmarshal(out, &got), string(out))
	require.Equal(t, []string{"/", "/"}, got.JSON.Paths)
	require.Equal(t, []string{"/service/MailManagerSvc/operation/ListRuleSets", "/service/MailManagerSvc/operation/GetRuleSet"}, got.CBOR.Paths)
	for _, r := range []run{got.JSON, got.CBOR} {
		require.Equal(t, "rs-0123", r.RuleSetID)
		require.Equal(t, "2024-05-06T07:08:09.500Z", r.Modified)
		require.Equal(t, "ResourceNotFoundException", r.Error.Name)
		require.Equal(t, "Rule set rs-nope does not exist.", r.Error.Message)
		require.Equal(t, 400, r.Error.Status)
		require.NotEmpty(t, r.Error.RequestID)
	}
}
