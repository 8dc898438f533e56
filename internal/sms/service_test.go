package sms_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/sms"
	"github.com/tidings/tidings/internal/sms/simulator"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

const (
	acct    = "111122223333"
	success = "+14254147755"
	failure = "+14254147167"
	topic   = "arn:aws:sns:us-east-1:111122223333:sms-events"
	twoWay  = "arn:aws:sns:us-east-1:111122223333:two-way"
)

type bundle struct {
	svc   *sms.Service
	db    *store.DB
	sim   *simulator.Simulator
	pub   *publisher
	clock *clock
	ctx   context.Context
}

type setupOpts struct {
	carrier  sms.Provider
	noWorker bool
	limits   map[sv.AccountLimitName]int64
}

func setup(t *testing.T, o setupOpts) *bundle {
	t.Helper()
	var db *store.DB
	if os.Getenv(storetest.EnvPostgresURL) != "" {
		db = storetest.OpenPostgres(t)
	} else {
		db = storetest.OpenSQLite(t)
	}
	b := &bundle{db: db, sim: simulator.New(t.TempDir(), nil), pub: &publisher{changed: make(chan struct{}, 1)},
		clock: &clock{t: time.Now().UTC()}, ctx: iam.WithPrincipal(context.Background(), iam.Principal{AccountID: acct})}
	var err error
	b.svc, err = sms.New(db.SMS(), sms.Config{Simulator: b.sim, Carrier: o.carrier, Publisher: b.pub, Now: b.clock.Now, Limits: o.limits}, nil)
	require.NoError(t, err)
	require.NoError(t, b.svc.Register(db.Jobs()))
	require.NoError(t, b.svc.Start(context.Background()))
	t.Cleanup(func() { _ = b.svc.Close() })
	if !o.noWorker {
		b.startWorkers(t)
	}
	return b
}

func (b *bundle) startWorkers(t *testing.T) {
	require.NoError(t, b.db.Jobs().Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = b.db.Jobs().Stop(ctx)
	})
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// publisher is the Publisher of the tests: it keeps what it is given.
type publisher struct {
	mu      sync.Mutex
	got     []published
	changed chan struct{}
}

type published struct {
	account, target string
	msg             map[string]any
}

func (p *publisher) Publish(_ context.Context, accountID, target string, message []byte) error {
	var m map[string]any
	if err := json.Unmarshal(message, &m); err != nil {
		return err
	}
	p.mu.Lock()
	p.got = append(p.got, published{accountID, target, m})
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
	return nil
}

// wait returns the first publication that match accepts, waiting for it.
func (p *publisher) wait(t *testing.T, match func(published) bool) published {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		p.mu.Lock()
		for _, g := range p.got {
			if match(g) {
				p.mu.Unlock()
				return g
			}
		}
		p.mu.Unlock()
		select {
		case <-p.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("publication never came")
		}
	}
}

func (p *publisher) all() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.got...)
}

func event(id, typ string) func(published) bool {
	return func(g published) bool { return g.msg["messageId"] == id && g.msg["eventType"] == typ }
}

func ptr[T any](v T) *T { return &v }

func (b *bundle) simNumber(t *testing.T) *sv.RequestPhoneNumberResult {
	t.Helper()
	n, err := b.svc.RequestPhoneNumber(b.ctx, &sv.RequestPhoneNumberRequest{IsoCountryCode: ptr("US"), MessageType: ptr(sv.MessageTypeTransactional),
		NumberCapabilities: []sv.NumberCapability{sv.NumberCapabilitySms, sv.NumberCapabilityVoice}, NumberType: ptr(sv.RequestableNumberTypeSimulator)})
	require.NoError(t, err)
	return n
}

func (b *bundle) configSet(t *testing.T, name string, types ...sv.EventType) {
	t.Helper()
	_, err := b.svc.CreateConfigurationSet(b.ctx, &sv.CreateConfigurationSetRequest{ConfigurationSetName: ptr(name)})
	require.NoError(t, err)
	_, err = b.svc.CreateEventDestination(b.ctx, &sv.CreateEventDestinationRequest{ConfigurationSetName: ptr(name),
		EventDestinationName: ptr("sns"), MatchingEventTypes: types, SnsDestination: &sv.SnsDestination{TopicArn: ptr(topic)}})
	require.NoError(t, err)
	_, err = b.svc.CreateEventDestination(b.ctx, &sv.CreateEventDestinationRequest{ConfigurationSetName: ptr(name),
		EventDestinationName: ptr("logs"), MatchingEventTypes: []sv.EventType{sv.EventTypeAll},
		CloudWatchLogsDestination: &sv.CloudWatchLogsDestination{IamRoleArn: ptr("arn:aws:iam::111122223333:role/x"), LogGroupArn: ptr("arn:aws:logs:us-east-1:111122223333:log-group:x")}})
	require.NoError(t, err)
}

func TestSendPublishesEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	n := b.simNumber(t)
	b.configSet(t, "otp", sv.EventTypeTextAll)
	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("Your code is 123456"),
		MessageType: ptr(sv.MessageTypeTransactional), ConfigurationSetName: ptr("otp"), Context: map[string]string{"user_id": "u1"}})
	require.NoError(t, err)
	id := *out.MessageId
	ok := b.pub.wait(t, event(id, "TEXT_SUCCESSFUL"))
	require.Equal(t, false, ok.msg["isFinal"])
	d := b.pub.wait(t, event(id, "TEXT_DELIVERED"))
	require.Equal(t, acct, d.account)
	require.Equal(t, topic, d.target, "only the SNS destination publishes")
	require.Equal(t, true, d.msg["isFinal"])
	require.Equal(t, *n.PhoneNumber, d.msg["originationPhoneNumber"])
	require.Equal(t, success, d.msg["destinationPhoneNumber"])
	require.Equal(t, "US", d.msg["isoCountryCode"])
	require.Equal(t, "TRANSACTIONAL", d.msg["messageType"])
	require.Equal(t, "GSM", d.msg["messageEncoding"])
	require.Equal(t, map[string]any{"user_id": "u1"}, d.msg["context"])
	require.EqualValues(t, 1, d.msg["totalMessageParts"])
	require.Len(t, b.pub.all(), 2)

	// The failure number: one final failure event.
	out, err = b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(failure), MessageBody: ptr("x"), ConfigurationSetName: ptr("otp")})
	require.NoError(t, err)
	f := b.pub.wait(t, event(*out.MessageId, "TEXT_CARRIER_UNREACHABLE"))
	require.Equal(t, true, f.msg["isFinal"])
}

func TestMatchingEventTypes(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.simNumber(t)
	b.configSet(t, "delivered-only", sv.EventTypeTextDelivered)
	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("x"), ConfigurationSetName: ptr("delivered-only")})
	require.NoError(t, err)
	b.pub.wait(t, event(*out.MessageId, "TEXT_DELIVERED"))
	// TEXT_SUCCESSFUL came first and was not published.
	v, err := b.svc.Message(b.ctx, acct, *out.MessageId)
	require.NoError(t, err)
	require.Len(t, v.Events, 2)
	require.Len(t, b.pub.all(), 1)
}

// The MessageId comes back only with the message and its job committed.
func TestSendIsDurable(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	b.simNumber(t)
	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("x")})
	require.NoError(t, err)
	v, err := b.svc.Message(b.ctx, acct, *out.MessageId)
	require.NoError(t, err)
	require.Empty(t, v.Events)
	jobs, err := b.db.Jobs().List(context.Background(), river.NewJobListParams().Kinds(sms.KindSend))
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Contains(t, string(jobs[0].EncodedArgs), *out.MessageId)

	// A dry run stores nothing.
	_, err = b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("x"), DryRun: ptr(true)})
	require.NoError(t, err)
	jobs, err = b.db.Jobs().List(context.Background(), river.NewJobListParams().Kinds(sms.KindSend))
	require.NoError(t, err)
	require.Len(t, jobs, 1)
}

func TestTimeToLiveExpires(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	b.simNumber(t)
	b.configSet(t, "cs", sv.EventTypeAll)
	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("x"),
		TimeToLive: ptr(int64(5)), ConfigurationSetName: ptr("cs")})
	require.NoError(t, err)
	b.clock.Advance(time.Minute)
	b.startWorkers(t)
	e := b.pub.wait(t, event(*out.MessageId, "TEXT_TTL_EXPIRED"))
	require.Equal(t, true, e.msg["isFinal"])
	_, sent := b.sim.Sent(*out.MessageId)
	require.False(t, sent, "an expired message is not submitted")
}

// silent is a carrier that accepts everything and never reports.
type silent struct{ reject bool }

func (silent) Start(context.Context, sms.Sink) error { return nil }
func (s silent) Submit(_ context.Context, m *sms.Outbound) (string, error) {
	if s.reject {
		return "", errors.Join(sms.ErrRejected, errors.New("invalid destination"))
	}
	return "carrier-" + m.MessageID, nil
}
func (silent) Close() error { return nil }

func longCode(t *testing.T, b *bundle) *sv.RequestPhoneNumberResult {
	n, err := b.svc.RequestPhoneNumber(b.ctx, &sv.RequestPhoneNumberRequest{IsoCountryCode: ptr("US"), MessageType: ptr(sv.MessageTypeTransactional),
		NumberCapabilities: []sv.NumberCapability{sv.NumberCapabilitySms}, NumberType: ptr(sv.RequestableNumberTypeLongCode)})
	require.NoError(t, err)
	return n
}

func TestUnknownAfter72Hours(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{carrier: silent{}})
	longCode(t, b)
	b.configSet(t, "cs", sv.EventTypeAll)
	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr("+12065550123"), MessageBody: ptr("x"), ConfigurationSetName: ptr("cs")})
	require.NoError(t, err)
	// Submitted to the carrier (its ID recorded), no receipt yet.
	require.Eventually(t, func() bool {
		var pid string
		_ = b.db.SMS().InTx(context.Background(), func(tx sms.Tx) error {
			m, err := tx.GetMessage(context.Background(), *out.MessageId)
			if err == nil {
				pid = m.ProviderID
			}
			return err
		})
		return pid == "carrier-"+*out.MessageId
	}, 30*time.Second, 20*time.Millisecond)
	n, err := b.svc.SweepUnknown(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "not yet 72 hours")
	b.clock.Advance(72*time.Hour + time.Minute)
	n, err = b.svc.SweepUnknown(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	e := b.pub.wait(t, event(*out.MessageId, "TEXT_UNKNOWN"))
	require.Equal(t, true, e.msg["isFinal"])
	// A late receipt after the final one changes nothing.
	require.NoError(t, b.svc.Receipt(context.Background(), sms.Receipt{ProviderID: "carrier-" + *out.MessageId, Status: sms.StatusDelivered}))
	v, err := b.svc.Message(b.ctx, acct, *out.MessageId)
	require.NoError(t, err)
	require.Equal(t, sms.StatusUnknown, v.Status)
	n, err = b.svc.SweepUnknown(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestCarrierRejection(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{carrier: silent{reject: true}})
	longCode(t, b)
	b.configSet(t, "cs", sv.EventTypeAll)
	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr("+12065550123"), MessageBody: ptr("x"), ConfigurationSetName: ptr("cs")})
	require.NoError(t, err)
	b.pub.wait(t, event(*out.MessageId, "TEXT_INVALID"))
}

func TestInboundStopAndTwoWay(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	n := b.simNumber(t)
	_, err := b.svc.UpdatePhoneNumber(b.ctx, &sv.UpdatePhoneNumberRequest{PhoneNumberId: n.PhoneNumberId, TwoWayEnabled: ptr(true), TwoWayChannelArn: ptr(twoWay)})
	require.NoError(t, err)
	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("hi"), OriginationIdentity: n.PhoneNumberId})
	require.NoError(t, err)

	require.NoError(t, b.sim.Inject(context.Background(), sms.Inbound{ID: "in-1", Origination: success, Destination: *n.PhoneNumber, Body: "Stop please"}))
	g := b.pub.wait(t, func(g published) bool { return g.target == twoWay })
	require.Equal(t, acct, g.account)
	require.Equal(t, map[string]any{"originationNumber": success, "destinationNumber": *n.PhoneNumber, "messageKeyword": "KEYWORD_" + acct,
		"messageBody": "Stop please", "inboundMessageId": "in-1", "previousPublishedMessageId": *out.MessageId}, g.msg)

	// The sender is on the number's list, and sending to it fails.
	list, err := b.svc.DescribeOptedOutNumbers(b.ctx, &sv.DescribeOptedOutNumbersRequest{OptOutListName: ptr(sms.DefaultOptOutList)})
	require.NoError(t, err)
	require.Len(t, list.OptedOutNumbers, 1)
	require.True(t, *list.OptedOutNumbers[0].EndUserOptedOut)
	_, err = b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("again"), OriginationIdentity: n.PhoneNumberId})
	var fe *fault.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, fault.Conflict, fe.Kind)
	require.Equal(t, "DESTINATION_PHONE_NUMBER_OPTED_OUT", fe.Reason)

	// The STOP answer went out as a message of its own, before the opt-out.
	// Self-managed opt-outs: STOP is passed on and nothing is answered.
	_, err = b.svc.UpdatePhoneNumber(b.ctx, &sv.UpdatePhoneNumberRequest{PhoneNumberId: n.PhoneNumberId, SelfManagedOptOutsEnabled: ptr(true)})
	require.NoError(t, err)
	_, err = b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("self-managed"), OriginationIdentity: n.PhoneNumberId})
	require.NoError(t, err, "self-managed opt-outs: the list is the sender's business")
}

func TestOriginationRules(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	send := func(dest, from string) error {
		_, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(dest), MessageBody: ptr("x"), OriginationIdentity: ptr(from)})
		return err
	}
	reason := func(err error) string {
		var fe *fault.Error
		require.ErrorAs(t, err, &fe)
		return fe.Reason
	}
	// No identity at all.
	err := send(success, "")
	require.Equal(t, "NO_ORIGINATION_IDENTITIES_FOUND", reason(err))
	n := b.simNumber(t)
	require.NoError(t, send(success, *n.PhoneNumberArn))
	require.NoError(t, send(success, *n.PhoneNumber))
	require.Equal(t, "INVALID_PARAMETER", reason(send("+12065550123", *n.PhoneNumberId)), "simulator to a real number")
	require.Equal(t, "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY", reason(send("+33755512501", *n.PhoneNumberId)), "simulator to another country")
	lc := longCode(t, b)
	require.Equal(t, "INVALID_IDENTITY_FOR_DESTINATION_COUNTRY", reason(send("+447911123456", *lc.PhoneNumberId)))
	require.NoError(t, send("+12065550123", *lc.PhoneNumberId))
	// A pool picks a member that can send.
	p, err := b.svc.CreatePool(b.ctx, &sv.CreatePoolRequest{OriginationIdentity: lc.PhoneNumberId, IsoCountryCode: ptr("US"), MessageType: ptr(sv.MessageTypeTransactional)})
	require.NoError(t, err)
	require.NoError(t, send("+12065550123", *p.PoolId))
	// Invalid destinations.
	require.Equal(t, "INVALID_PARAMETER", reason(send("12065550123", *lc.PhoneNumberId)))
	require.Error(t, send("+1206", *lc.PhoneNumberId))
	_, err = b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("x"), OriginationIdentity: ptr("phone-nope")})
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

func TestVoiceNeedsSynthesizer(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	n := b.simNumber(t)
	_, err := b.svc.SendVoiceMessage(b.ctx, &sv.SendVoiceMessageRequest{DestinationPhoneNumber: ptr(success), OriginationIdentity: n.PhoneNumberId, MessageBody: ptr("hi")})
	require.True(t, fault.Is(err, fault.Unavailable), "%v", err)
}

// Concurrent sends from one number to one destination all succeed (each
// also records itself as the conversation's last message).
func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	n := b.simNumber(t)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success),
				MessageBody: ptr("x"), OriginationIdentity: n.PhoneNumberId})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}
