package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/model/smithy"
)

const (
	testRegion  = "us-east-1"
	testKeyID   = "AKIDTIDINGSTEST00001"
	testSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testAccount = "123456789012"
	tempKeyID   = "ASIATIDINGSTEMP00001"
	tempSecret  = "temporary-secret"
	tempToken   = "session-token-1"
	// expiredKeyID is temporary credentials past their expiration.
	expiredKeyID = "ASIATIDINGSEXPIRED01"
)

// fakeKeys is a KeyLookup with one long-term key and one temporary key.
type fakeKeys struct{}

func (fakeKeys) LookupAccessKey(_ context.Context, id string) (string, iam.Principal, error) {
	if id == "AKIDBROKENLOOKUP" {
		return "", iam.Principal{}, errors.New("database is down")
	}
	if id != testKeyID {
		return "", iam.Principal{}, fault.NotFoundf("no key %s", id)
	}
	return testSecret, iam.Principal{AccountID: testAccount, AccessKeyID: id, ARN: "arn:aws:iam::" + testAccount + ":root"}, nil
}

func (fakeKeys) LookupSessionKey(_ context.Context, id, token string) (string, iam.Principal, error) {
	if id == expiredKeyID && token == tempToken {
		return "", iam.Principal{}, iam.ErrExpiredToken
	}
	if id != tempKeyID || token != tempToken {
		return "", iam.Principal{}, fault.NotFoundf("no session")
	}
	return tempSecret, iam.Principal{AccountID: testAccount, AccessKeyID: id, ARN: "arn:aws:sts::" + testAccount + ":assumed-role/r/s"}, nil
}

// memIdem is an in-memory IdempotencyStore.
type memIdem struct {
	mu sync.Mutex
	m  map[string][2]string
}

func (s *memIdem) Remembered(_ context.Context, account, key string) (string, []byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[account+"|"+key]
	return v[0], []byte(v[1]), ok, nil
}

func (s *memIdem) Remember(_ context.Context, account, key, hash string, resp []byte, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[account+"|"+key] = [2]string{hash, string(resp)}
	return nil
}

type recMetrics struct {
	mu   sync.Mutex
	seen []RequestInfo
}

func (m *recMetrics) ObserveRequest(i RequestInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, i)
}

type bundle struct {
	srv     *Server
	ts      *httptest.Server
	logs    *syncBuffer
	metrics *recMetrics
	creates atomic.Int64

	mu   sync.Mutex
	last map[string]any // last input per operation
}

func (b *bundle) record(op string, in any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last[op] = in
}

func (b *bundle) lastInput(op string) any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last[op]
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var fixedDate = time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.UTC)

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{logs: &syncBuffer{}, metrics: &recMetrics{}, last: map[string]any{}}
	b.srv = New(Config{
		Region:           testRegion,
		KeyLookup:        fakeKeys{},
		IdempotencyStore: &memIdem{m: map[string][2]string{}},
		Logger:           slog.New(slog.NewJSONHandler(b.logs, nil)),
		Metrics:          b.metrics,
	})
	registerFakes(b)
	b.ts = httptest.NewServer(b.srv)
	t.Cleanup(b.ts.Close)
	return b
}

func registerFakes(b *bundle) {
	s := b.srv
	s.Register(fakeMailManager)
	Handle(s, fakeMailManager, "ListRuleSets", func(ctx context.Context, in *mmListRuleSetsInput) (*mmListRuleSetsOutput, error) {
		b.record("ListRuleSets", in)
		switch aws.ToString(in.NextToken) {
		case "boom":
			return nil, errors.New("disk on fire")
		case "throttle":
			return nil, &fault.Error{Kind: fault.Throttled, Message: "slow down"}
		case "denied":
			return nil, fault.AccessDeniedf("no")
		case "unavailable":
			return nil, fault.Unavailablef("storage unreachable")
		case "panic":
			panic("handler bug")
		case "empty":
			return &mmListRuleSetsOutput{}, nil
		}
		return &mmListRuleSetsOutput{RuleSets: []mmRuleSet{{
			RuleSetId: aws.String("rs-1"), RuleSetName: aws.String("inbound"),
			LastModificationDate: smithy.NewTime(fixedDate),
		}}}, nil
	})
	Handle(s, fakeMailManager, "CreateRuleSet", func(ctx context.Context, in *mmCreateRuleSetInput) (*mmCreateRuleSetOutput, error) {
		b.record("CreateRuleSet", in)
		switch aws.ToString(in.RuleSetName) {
		case "exists":
			return nil, fault.Conflictf("rule set exists")
		case "opted-out":
			return nil, &fault.Error{Kind: fault.Conflict, Message: "opted out", Reason: "DESTINATION_PHONE_NUMBER_OPTED_OUT", ResourceType: "phone-number", ResourceID: "+15555550100"}
		case "quota":
			return nil, fault.QuotaExceededf("too many rule sets")
		case "invalid":
			return nil, fault.Invalidf("rules contradict")
		}
		p, _ := iam.PrincipalFrom(ctx)
		n := b.creates.Add(1)
		return &mmCreateRuleSetOutput{RuleSetId: aws.String(fmt.Sprintf("rs-%s-%d", p.AccountID, n))}, nil
	})
	Handle(s, fakeMailManager, "GetRuleSet", func(ctx context.Context, in *mmGetRuleSetInput) (*mmGetRuleSetOutput, error) {
		if aws.ToString(in.RuleSetId) == "missing" {
			return nil, fault.NotFoundf("rule set missing does not exist")
		}
		return &mmGetRuleSetOutput{RuleSetId: in.RuleSetId, CreatedDate: smithy.NewTime(fixedDate), Blob: []byte{0, 1, 2, 0xff}}, nil
	})
	Handle(s, fakeMailManager, "Ping", func(ctx context.Context, in *struct{}) (*struct{}, error) { return nil, nil })

	Handle(s, fakeSESv2, "GetEmailIdentity", func(ctx context.Context, in *sv2GetEmailIdentityInput) (*sv2GetEmailIdentityOutput, error) {
		b.record("GetEmailIdentity", in)
		if aws.ToString(in.EmailIdentity) == "missing@example.com" {
			return nil, fault.NotFoundf("Email identity %s does not exist.", *in.EmailIdentity)
		}
		return &sv2GetEmailIdentityOutput{IdentityType: aws.String("EMAIL_ADDRESS"), VerifiedForSendingStatus: aws.Bool(true)}, nil
	})
	Handle(s, fakeSESv2, "CreateEmailIdentity", func(ctx context.Context, in *sv2CreateEmailIdentityInput) (*sv2CreateEmailIdentityOutput, error) {
		b.record("CreateEmailIdentity", in)
		if aws.ToString(in.EmailIdentity) == "exists@example.com" {
			return nil, fault.Conflictf("Email identity exists@example.com already exists.")
		}
		if aws.ToString(in.EmailIdentity) == "broken@example.com" {
			return nil, errors.New("secret internal detail")
		}
		return &sv2CreateEmailIdentityOutput{IdentityType: aws.String("EMAIL_ADDRESS")}, nil
	})
	Handle(s, fakeSESv2, "ListSuppressedDestinations", func(ctx context.Context, in *sv2ListSuppressedInput) (*sv2ListSuppressedOutput, error) {
		b.record("ListSuppressedDestinations", in)
		return &sv2ListSuppressedOutput{}, nil
	})
	Handle(s, fakeSESv2, "GetContact", func(ctx context.Context, in *sv2ContactInput) (*sv2ContactOutput, error) {
		b.record("GetContact", in)
		return &sv2ContactOutput{EmailAddress: in.EmailAddress}, nil
	})
	Handle(s, fakeSESv2, "ListContacts", func(ctx context.Context, in *sv2ListContactsInput) (*sv2ListContactsOutput, error) {
		b.record("ListContacts", in)
		return &sv2ListContactsOutput{List: in.ContactListName}, nil
	})
	Handle(s, fakeSESv2, "PutObject", func(ctx context.Context, in *sv2ObjectInput) (*sv2ObjectOutput, error) {
		b.record("PutObject", in)
		return &sv2ObjectOutput{ETag: aws.String(`"e1"`), Status: aws.Int64(202), Body: append([]byte("echo:"), in.Body...)}, nil
	}, WithBodyLimit(64))

	Handle(s, fakeSES, "SendEmail", func(ctx context.Context, in *sesSendEmailInput) (*sesSendEmailOutput, error) {
		b.record("SendEmail", in)
		switch {
		case aws.ToString(in.Source) == "reject@example.com":
			return nil, &Error{Name: "MessageRejected", Message: "Email address is not verified."}
		case aws.ToString(in.ConfigurationSetName) == "nocs":
			return nil, &fault.Error{Kind: fault.NotFound, Message: "Configuration set <nocs> does not exist.", ResourceType: "ConfigurationSet"}
		}
		return &sesSendEmailOutput{MessageId: aws.String("0100-abc")}, nil
	})
	Handle(s, fakeSES, "ListIdentities", func(ctx context.Context, in *mmEmpty) (*sesListOutput, error) {
		return &sesListOutput{
			Identities: []string{"a@example.com", "example.org"},
			Attrs:      map[string]sesIdentityAttrs{"z.example": {VerificationStatus: aws.String("Success")}, "a.example": {VerificationStatus: aws.String("Pending")}},
			Flat:       []string{"f1", "f2"},
			Max:        aws.Float64(200),
			Ok:         aws.Bool(true),
			At:         smithy.NewTime(fixedDate),
			Note:       aws.String("a<b & c>d"),
		}, nil
	})
	Handle(s, fakeSES, "SendTemplatedEmail", func(ctx context.Context, in *sesTemplateInput) (*sesSendEmailOutput, error) {
		switch aws.ToString(in.TemplateName) {
		case "none":
			return nil, &fault.Error{Kind: fault.NotFound, Message: "Template none does not exist.", ResourceType: "Template"}
		case "quota":
			return nil, fault.QuotaExceededf("Maximum sending rate exceeded.")
		}
		return &sesSendEmailOutput{MessageId: aws.String("t-1")}, nil
	})

	Handle(s, fakeSTS, "GetCallerIdentity", func(ctx context.Context, in *mmEmpty) (*stsCallerIdentityOutput, error) {
		p, ok := iam.PrincipalFrom(ctx)
		if !ok {
			return nil, errors.New("no principal")
		}
		return &stsCallerIdentityOutput{Account: aws.String(p.AccountID), Arn: aws.String(p.ARN), UserId: aws.String(p.AccessKeyID)}, nil
	})
	Handle(s, fakeSTS, "AssumeRoleWithWebIdentity", func(ctx context.Context, in *stsWebIdentityInput) (*stsWebIdentityOutput, error) {
		provider := "anonymous"
		if _, ok := iam.PrincipalFrom(ctx); ok {
			provider = "signed"
		}
		return &stsWebIdentityOutput{Provider: aws.String(provider)}, nil
	}, Anonymous())
}

// newRequest builds a request to the test server.
func (b *bundle) newRequest(t *testing.T, method, path string, body []byte, header map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, b.ts.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

func payloadHash(body []byte) string {
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}

// sign signs req in the Authorization header with the independent signer
// of aws-sdk-go-v2.
func sign(t *testing.T, req *http.Request, body []byte, service string, at time.Time) *http.Request {
	t.Helper()
	return signAs(t, req, body, service, at, aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret})
}

func signAs(t *testing.T, req *http.Request, body []byte, service string, at time.Time, creds aws.Credentials) *http.Request {
	t.Helper()
	err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash(body), service, testRegion, at)
	require.NoError(t, err)
	return req
}

// do sends req and returns the response with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	requireRequestID(t, resp)
	return resp, b
}

func requireRequestID(t *testing.T, resp *http.Response) {
	t.Helper()
	id := resp.Header.Get("X-Amzn-Requestid")
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id, "x-amzn-RequestId on every response")
}

// callJSON makes a signed awsJson1_0 call to the fake Mail Manager.
func (b *bundle) callJSON(t *testing.T, op, body string) (*http.Response, []byte) {
	t.Helper()
	req := b.newRequest(t, "POST", "/", []byte(body), map[string]string{
		"X-Amz-Target": "MailManagerSvc." + op,
		"Content-Type": "application/x-amz-json-1.0",
	})
	return do(t, sign(t, req, []byte(body), "ses", time.Now()))
}

// callQuery makes a signed awsQuery call signed for service.
func (b *bundle) callQuery(t *testing.T, service, form string) (*http.Response, []byte) {
	t.Helper()
	req := b.newRequest(t, "POST", "/", []byte(form), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
	})
	return do(t, sign(t, req, []byte(form), service, time.Now()))
}

func hasLine(logs, substr string) bool {
	for l := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}
