package sending

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
)

// accountRecord is the JSON body of an account's sending settings. Its
// zero value is a new account: sending on, out of the sandbox (a
// self-hosted server has nobody to ask for production access), the
// suppression list on for bounces and complaints, as SES sets new
// accounts.
type accountRecord struct {
	SendingPaused bool `json:"sending_paused,omitempty"`
	// Sandbox restricts recipients to verified identities (opt-in).
	Sandbox bool `json:"sandbox,omitempty"`
	// SuppressedReasons: nil means the default (BOUNCE, COMPLAINT).
	SuppressedReasons *[]string             `json:"suppressed_reasons,omitempty"`
	Details           *sesv2.AccountDetails `json:"details,omitempty"`
}

func (a *accountRecord) reasons() []string {
	if a.SuppressedReasons == nil {
		return []string{"BOUNCE", "COMPLAINT"}
	}
	return *a.SuppressedReasons
}

func (s *Service) loadAccount(ctx context.Context, r Reader, acct string) (*accountRecord, error) {
	res, err := r.Get(ctx, acct, KindAccount, "")
	if fault.Is(err, fault.NotFound) {
		return &accountRecord{}, nil
	}
	if err != nil {
		return nil, err
	}
	var a accountRecord
	return &a, json.Unmarshal(res.Body, &a)
}

func (s *Service) updateAccount(ctx context.Context, fn func(a *accountRecord) error) error {
	acct, err := account(ctx)
	if err != nil {
		return err
	}
	return s.st.InTx(ctx, func(tx Tx) error {
		a, err := s.loadAccount(ctx, tx, acct)
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
		body, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return tx.Put(ctx, &Resource{AccountID: acct, Kind: KindAccount, Name: "", Status: "", Body: body})
	})
}

// GetAccount describes the account's sending: quota, sandbox, pause,
// suppression.
func (s *Service) GetAccount(ctx context.Context, _ *sesv2.GetAccountRequest) (*sesv2.GetAccountResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.loadAccount(ctx, s.st, acct)
	if err != nil {
		return nil, err
	}
	sent, err := s.st.CountRecipientsSince(ctx, acct, s.now().Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	var reasons []sesv2.SuppressionListReason
	for _, r := range a.reasons() {
		reasons = append(reasons, sesv2.SuppressionListReason(r))
	}
	if reasons == nil {
		reasons = []sesv2.SuppressionListReason{}
	}
	out := &sesv2.GetAccountResponse{
		DedicatedIpAutoWarmupEnabled: ptr(false),
		EnforcementStatus:            ptr("HEALTHY"),
		ProductionAccessEnabled:      ptr(!a.Sandbox),
		SendingEnabled:               ptr(!a.SendingPaused),
		SendQuota: &sesv2.SendQuota{
			Max24HourSend:   ptr(s.cfg.Max24HourSend),
			MaxSendRate:     ptr(s.cfg.MaxSendRate),
			SentLast24Hours: ptr(float64(sent)),
		},
		SuppressionAttributes: &sesv2.SuppressionAttributes{SuppressedReasons: reasons},
		Details:               a.Details,
	}
	return out, nil
}

// PutAccountSendingAttributes pauses or resumes the account's sending.
func (s *Service) PutAccountSendingAttributes(ctx context.Context, in *sesv2.PutAccountSendingAttributesRequest) (*sesv2.PutAccountSendingAttributesResponse, error) {
	err := s.updateAccount(ctx, func(a *accountRecord) error {
		a.SendingPaused = in.SendingEnabled != nil && !*in.SendingEnabled
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.PutAccountSendingAttributesResponse{}, nil
}

// PutAccountDetails records the account's details; ProductionAccessEnabled
// false puts the account in the sandbox (only verified recipients), true
// takes it out, at once: there is no review on a self-hosted server.
func (s *Service) PutAccountDetails(ctx context.Context, in *sesv2.PutAccountDetailsRequest) (*sesv2.PutAccountDetailsResponse, error) {
	err := s.updateAccount(ctx, func(a *accountRecord) error {
		a.Details = &sesv2.AccountDetails{
			AdditionalContactEmailAddresses: in.AdditionalContactEmailAddresses,
			ContactLanguage:                 in.ContactLanguage,
			MailType:                        in.MailType,
			UseCaseDescription:              in.UseCaseDescription,
			WebsiteURL:                      in.WebsiteURL,
			ReviewDetails:                   &sesv2.ReviewDetails{Status: ptr(sesv2.ReviewStatus("GRANTED"))},
		}
		if in.ProductionAccessEnabled != nil {
			a.Sandbox = !*in.ProductionAccessEnabled
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.PutAccountDetailsResponse{}, nil
}

// PutAccountSuppressionAttributes sets which reasons put addresses on the
// account's suppression list.
func (s *Service) PutAccountSuppressionAttributes(ctx context.Context, in *sesv2.PutAccountSuppressionAttributesRequest) (*sesv2.PutAccountSuppressionAttributesResponse, error) {
	err := s.updateAccount(ctx, func(a *accountRecord) error {
		rs := []string{}
		for _, r := range in.SuppressedReasons {
			if !slices.Contains(rs, string(r)) {
				rs = append(rs, string(r))
			}
		}
		a.SuppressedReasons = &rs
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.PutAccountSuppressionAttributesResponse{}, nil
}

// rateLimiter is a token bucket per account: MaxSendRate recipients per
// second, with a burst of one second's worth.
type rateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter() *rateLimiter { return &rateLimiter{buckets: map[string]*bucket{}} }

// take takes n tokens of acct's bucket, or reports false when there are
// not enough (nothing is taken then).
func (l *rateLimiter) take(acct string, n int, rate float64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	burst := math.Max(rate, 1)
	b := l.buckets[acct]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		l.buckets[acct] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(burst, b.tokens+el*rate)
	}
	b.last = now
	if b.tokens < float64(n) && !(float64(n) > burst && b.tokens >= burst) {
		return false
	}
	b.tokens -= float64(n)
	return true
}
