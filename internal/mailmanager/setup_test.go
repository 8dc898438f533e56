package mailmanager_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/mailmanager"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

const (
	acct1 = "111122223333"
	acct2 = "444455556666"
)

// testBundle is what each test works with: a Service over a fresh SQLite
// store, a clock the test moves, and an in-memory blob store behind the
// upload URLs.
type testBundle struct {
	svc   *mailmanager.Service
	store mailmanager.Store
	ctx   context.Context // caller: account acct1
	ctx2  context.Context // caller: account acct2
	clock *fakeClock
	blobs *memBlobs
}

type setupOpts struct {
	ports mailmanager.PortRange
}

func setup(t *testing.T, opts ...setupOpts) *testBundle {
	t.Helper()
	var o setupOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	// SQLite by default; PostgreSQL when a test database is configured, so
	// that the business rules are checked on both stores.
	var db *store.DB
	if os.Getenv(storetest.EnvPostgresURL) != "" {
		db = storetest.OpenPostgres(t)
	} else {
		db = storetest.OpenSQLite(t)
	}
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	blobs := &memBlobs{m: map[string][]byte{}}
	svc, err := mailmanager.New(db.MailManager(), blobs, blobs, mailmanager.Config{
		Region: "us-east-1",
		Ports:  o.ports,
		Now:    clock.Now,
	}, nil)
	require.NoError(t, err)
	return &testBundle{
		svc:   svc,
		store: db.MailManager(),
		ctx:   iam.WithPrincipal(context.Background(), iam.Principal{AccountID: acct1}),
		ctx2:  iam.WithPrincipal(context.Background(), iam.Principal{AccountID: acct2}),
		clock: clock,
		blobs: blobs,
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// memBlobs signs upload URLs and serves the blobs "uploaded" to them.
type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *memBlobs) PresignPut(key string, expires time.Duration) (string, error) {
	return "http://127.0.0.1:8025/_tidings/upload/" + key + "?expires=" + expires.String(), nil
}

func (b *memBlobs) Get(_ context.Context, key string) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[key]
	if !ok {
		return nil, fault.NotFoundf("blob %s not found", key)
	}
	return io.NopCloser(bytes.NewReader(v)), nil
}

func (b *memBlobs) Put(key string, v []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[key] = v
}

func p[T any](v T) *T { return &v }

// requireFault checks the kind of err and that its message has each of
// the parts.
func requireFault(t *testing.T, err error, k fault.Kind, parts ...string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, k, fault.KindOf(err), "error %q", err)
	for _, s := range parts {
		require.Contains(t, err.Error(), s)
	}
}

// Resources the tests build on.

func (b *testBundle) archive(t *testing.T, name string) string {
	t.Helper()
	out, err := b.svc.CreateArchive(b.ctx, &mm.CreateArchiveRequest{ArchiveName: p(name)})
	require.NoError(t, err)
	return *out.ArchiveId
}

func (b *testBundle) relay(t *testing.T, name string) string {
	t.Helper()
	in := &mm.CreateRelayRequest{
		RelayName:      p(name),
		ServerName:     p("smtp.example.com"),
		ServerPort:     p(int64(587)),
		Authentication: &mm.RelayAuthentication{NoAuthentication: &mm.NoAuthentication{}},
	}
	require.NoError(t, in.Validate())
	out, err := b.svc.CreateRelay(b.ctx, in)
	require.NoError(t, err)
	return *out.RelayId
}

func (b *testBundle) addressList(t *testing.T, name string) string {
	t.Helper()
	out, err := b.svc.CreateAddressList(b.ctx, &mm.CreateAddressListRequest{AddressListName: p(name)})
	require.NoError(t, err)
	return *out.AddressListId
}

func trafficPolicyRequest(name string, lists ...string) *mm.CreateTrafficPolicyRequest {
	in := &mm.CreateTrafficPolicyRequest{
		TrafficPolicyName: p(name),
		DefaultAction:     p(mm.AcceptActionAllow),
		PolicyStatements: []mm.PolicyStatement{{
			Action: p(mm.AcceptActionDeny),
			Conditions: []mm.PolicyCondition{{IpExpression: &mm.IngressIpv4Expression{
				Evaluate: &mm.IngressIpToEvaluate{Attribute: p(mm.IngressIpv4AttributeSenderIp)},
				Operator: p(mm.IngressIpOperatorCidrMatches),
				Values:   []string{"192.0.2.0/24"},
			}}},
		}},
	}
	if len(lists) > 0 {
		in.PolicyStatements = append(in.PolicyStatements, mm.PolicyStatement{
			Action: p(mm.AcceptActionAllow),
			Conditions: []mm.PolicyCondition{{BooleanExpression: &mm.IngressBooleanExpression{
				Evaluate: &mm.IngressBooleanToEvaluate{IsInAddressList: &mm.IngressIsInAddressList{
					Attribute:    p(mm.IngressAddressListEmailAttributeRecipient),
					AddressLists: lists,
				}},
				Operator: p(mm.IngressBooleanOperatorIsTrue),
			}}},
		})
	}
	return in
}

func (b *testBundle) trafficPolicy(t *testing.T, name string, lists ...string) string {
	t.Helper()
	in := trafficPolicyRequest(name, lists...)
	require.NoError(t, in.Validate())
	out, err := b.svc.CreateTrafficPolicy(b.ctx, in)
	require.NoError(t, err)
	return *out.TrafficPolicyId
}

// ruleSetRequest archives every message to archive and relays it to relay
// (either may be "").
func ruleSetRequest(name, archive, relay string) *mm.CreateRuleSetRequest {
	rule := mm.Rule{Name: p("all")}
	if archive != "" {
		rule.Actions = append(rule.Actions, mm.RuleAction{Archive: &mm.ArchiveAction{TargetArchive: p(archive)}})
	}
	if relay != "" {
		rule.Actions = append(rule.Actions, mm.RuleAction{Relay: &mm.RelayAction{Relay: p(relay), MailFrom: p(mm.MailFromPreserve)}})
	}
	if len(rule.Actions) == 0 {
		rule.Actions = []mm.RuleAction{{Drop: &mm.DropAction{}}}
	}
	return &mm.CreateRuleSetRequest{RuleSetName: p(name), Rules: []mm.Rule{rule}}
}

func (b *testBundle) ruleSet(t *testing.T, name, archive, relay string) string {
	t.Helper()
	in := ruleSetRequest(name, archive, relay)
	require.NoError(t, in.Validate())
	out, err := b.svc.CreateRuleSet(b.ctx, in)
	require.NoError(t, err)
	return *out.RuleSetId
}

func (b *testBundle) openIngress(t *testing.T, name, ruleSet, policy string, tags ...mm.Tag) (string, error) {
	t.Helper()
	in := &mm.CreateIngressPointRequest{
		IngressPointName: p(name),
		Type:             p(mm.IngressPointTypeOpen),
		RuleSetId:        p(ruleSet),
		TrafficPolicyId:  p(policy),
		Tags:             tags,
	}
	require.NoError(t, in.Validate())
	out, err := b.svc.CreateIngressPoint(b.ctx, in)
	if err != nil {
		return "", err
	}
	return *out.IngressPointId, nil
}
