package sending

import (
	"context"
	"encoding/json"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/model/smithy"
)

// Identity types and statuses (the SES v2 enum values).
const (
	TypeEmail  = "EMAIL_ADDRESS"
	TypeDomain = "DOMAIN"

	StatusPending    = "PENDING"
	StatusSuccess    = "SUCCESS"
	StatusFailed     = "FAILED"
	StatusTempFail   = "TEMPORARY_FAILURE"
	StatusNotStarted = "NOT_STARTED"
)

// statusCheck is the Status column of an identity some DNS check is due
// for (its verification, DKIM or custom MAIL FROM domain).
const statusCheck = "CHECK"

// pendingFor is how long a domain may stay PENDING before it is FAILED,
// as SES (72 hours).
const pendingFor = 72 * time.Hour

// identityRecord is the JSON body of an identity.
type identityRecord struct {
	Type   string `json:"type"`
	Status string `json:"status"` // the identity's verification status
	// VerificationToken is the SES v1 domain token (TXT at _amazonses.<domain>).
	VerificationToken  string      `json:"verification_token,omitempty"`
	DKIM               *dkimKey    `json:"dkim,omitempty"`
	DKIMStatus         string      `json:"dkim_status,omitempty"`
	SigningEnabled     bool        `json:"signing_enabled"`
	KeyGeneratedAt     time.Time   `json:"key_generated_at,omitzero"`
	MailFromDomain     string      `json:"mail_from_domain,omitempty"`
	MailFromBehavior   string      `json:"mail_from_behavior,omitempty"`
	MailFromStatus     string      `json:"mail_from_status,omitempty"`
	FeedbackForwarding bool        `json:"feedback_forwarding"`
	ConfigurationSet   string      `json:"configuration_set,omitempty"`
	Tags               []sesv2.Tag `json:"tags,omitempty"`
	// Notify holds SES v1's notification topics (notify.go).
	Notify       *notifyTopics `json:"notify,omitempty"`
	PendingSince time.Time     `json:"pending_since,omitzero"`
	LastChecked  time.Time     `json:"last_checked,omitzero"`
	LastSuccess  time.Time     `json:"last_success,omitzero"`
	LastError    string        `json:"last_error,omitempty"` // a VerificationError value
	// NextCheck is when the verification job looks next.
	NextCheck time.Time `json:"next_check,omitzero"`
	Checks    int       `json:"checks,omitempty"`
}

// notify returns r's notification settings, made if it has none.
func (r *identityRecord) notify() *notifyTopics {
	if r.Notify == nil {
		r.Notify = &notifyTopics{}
	}
	if r.Notify.Topics == nil {
		r.Notify.Topics = map[string]string{}
	}
	if r.Notify.Headers == nil {
		r.Notify.Headers = map[string]bool{}
	}
	return r.Notify
}

// column is the indexed status: CHECK while some DNS check is due.
func (r *identityRecord) column() string {
	if r.Type == TypeDomain && (r.Status == StatusPending || r.Status == StatusTempFail || r.MailFromStatus == StatusPending || r.MailFromStatus == StatusTempFail) {
		return statusCheck
	}
	return r.Status
}

// signs reports whether mail from r's domain is DKIM-signed with its key:
// a key whose records are verified, with signing enabled.
func (r *identityRecord) signs() bool {
	return r.DKIM != nil && r.SigningEnabled && r.DKIMStatus == StatusSuccess
}

func decodeIdentity(res *Resource) (*identityRecord, error) {
	var r identityRecord
	if err := json.Unmarshal(res.Body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// decoded caches the records sharedIdentity decodes, keyed by the stored
// body: a body decodes to one record, so an entry is never stale.
var decoded struct {
	sync.Mutex
	m map[string]*identityRecord
}

// sharedIdentity is decodeIdentity for the send path, which reads the
// same few identities for every message: the record may be shared with
// other sends and must not be changed.
func sharedIdentity(res *Resource) (*identityRecord, error) {
	decoded.Lock()
	r, ok := decoded.m[string(res.Body)]
	decoded.Unlock()
	if ok {
		return r, nil
	}
	r, err := decodeIdentity(res)
	if err != nil {
		return nil, err
	}
	decoded.Lock()
	if decoded.m == nil || len(decoded.m) >= maxCachedSigners {
		decoded.m = map[string]*identityRecord{}
	}
	decoded.m[string(res.Body)] = r
	decoded.Unlock()
	return r, nil
}

func (s *Service) putIdentity(ctx context.Context, tx Tx, acct, name string, r *identityRecord, created time.Time) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Put(ctx, &Resource{AccountID: acct, Kind: KindIdentity, Name: name, Status: r.column(), Body: body, CreatedAt: created, UpdatedAt: s.now()})
}

// normalizeIdentity checks an identity name and returns it canonical:
// domains lower case; addresses with the domain lower case.
func normalizeIdentity(name string) (canon, typ string, err error) {
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t\r\n<>,;\"") {
		return "", "", fault.Invalidf("Invalid email identity %q", name)
	}
	if at := strings.LastIndexByte(name, '@'); at >= 0 {
		local, domain := name[:at], name[at+1:]
		if local == "" || !validDomain(domain) {
			return "", "", fault.Invalidf("Invalid email address %q", name)
		}
		if _, err := mail.ParseAddress(name); err != nil {
			return "", "", fault.Invalidf("Invalid email address %q: %v", name, err)
		}
		return local + "@" + strings.ToLower(domain), TypeEmail, nil
	}
	d := strings.ToLower(strings.TrimSuffix(name, "."))
	if !validDomain(d) {
		return "", "", fault.Invalidf("Invalid domain name %q", name)
	}
	return d, TypeDomain, nil
}

func validDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// CreateEmailIdentity starts the verification of an address or domain.
// A domain gets an Easy DKIM key (or the BYODKIM key given) and is
// verified by the DNS check job; an address gets a confirmation link by
// mail.
func (s *Service) CreateEmailIdentity(ctx context.Context, in *sesv2.CreateEmailIdentityRequest) (*sesv2.CreateEmailIdentityResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	name, typ, err := normalizeIdentity(str(in.EmailIdentity))
	if err != nil {
		return nil, err
	}
	if err := CheckTags(in.Tags); err != nil {
		return nil, err
	}
	now := s.now()
	rec := &identityRecord{Type: typ, Status: StatusPending, PendingSince: now, Tags: in.Tags, ConfigurationSet: str(in.ConfigurationSetName)}
	if typ == TypeDomain {
		rec.SigningEnabled = true
		rec.DKIMStatus = StatusPending
		rec.KeyGeneratedAt = now
		rec.VerificationToken = randomToken(44)
		if a := in.DkimSigningAttributes; a != nil && (a.DomainSigningPrivateKey != nil || a.DomainSigningSelector != nil) {
			if rec.DKIM, err = parseBYODKIM(str(a.DomainSigningSelector), str(a.DomainSigningPrivateKey)); err != nil {
				return nil, err
			}
		} else if rec.DKIM, err = newEasyDKIM(); err != nil {
			return nil, err
		}
		rec.NextCheck = now.Add(firstCheck)
	} else if in.DkimSigningAttributes != nil {
		return nil, fault.Invalidf("DkimSigningAttributes apply to domain identities only")
	}
	err = s.st.InTx(ctx, func(tx Tx) error {
		if rec.ConfigurationSet != "" {
			if _, err := tx.Get(ctx, acct, KindConfigSet, rec.ConfigurationSet); err != nil {
				return err
			}
		}
		body, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := tx.Insert(ctx, &Resource{AccountID: acct, Kind: KindIdentity, Name: name, Status: rec.column(), Body: body, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if typ == TypeDomain {
			return tx.Enqueue(ctx, CheckArgs{AccountID: acct, Identity: name, NotBefore: rec.NextCheck})
		}
		return tx.Enqueue(ctx, ConfirmArgs{AccountID: acct, Address: name})
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("identity created", "account", acct, "identity", name, "type", typ)
	out := &sesv2.CreateEmailIdentityResponse{IdentityType: ptr(sesv2.IdentityType(typ)), VerifiedForSendingStatus: ptr(false)}
	if typ == TypeDomain {
		out.DkimAttributes = dkimAttributes(rec)
	}
	return out, nil
}

func dkimAttributes(r *identityRecord) *sesv2.DkimAttributes {
	if r.Type != TypeDomain {
		return &sesv2.DkimAttributes{SigningEnabled: ptr(false), Status: ptr(sesv2.DkimStatusNotStarted)}
	}
	a := &sesv2.DkimAttributes{
		SigningEnabled: ptr(r.SigningEnabled),
		Status:         ptr(sesv2.DkimStatus(r.DKIMStatus)),
	}
	if r.DKIM != nil {
		a.Tokens = slices.Clone(r.DKIM.Tokens)
		a.SigningAttributesOrigin = ptr(sesv2.DkimSigningAttributesOrigin(r.DKIM.Origin))
		if r.DKIM.Origin == "AWS_SES" {
			a.CurrentSigningKeyLength = ptr(sesv2.DkimSigningKeyLength("RSA_2048_BIT"))
			a.NextSigningKeyLength = ptr(sesv2.DkimSigningKeyLength("RSA_2048_BIT"))
			if !r.KeyGeneratedAt.IsZero() {
				a.LastKeyGenerationTimestamp = smithy.NewTime(r.KeyGeneratedAt)
			}
		}
	}
	return a
}

func (s *Service) getIdentity(ctx context.Context, acct, raw string) (string, *Resource, *identityRecord, error) {
	name, _, err := normalizeIdentity(raw)
	if err != nil {
		return "", nil, nil, err
	}
	res, err := s.st.Get(ctx, acct, KindIdentity, name)
	if err != nil {
		return "", nil, nil, err
	}
	rec, err := decodeIdentity(res)
	return name, res, rec, err
}

// GetEmailIdentity describes an identity.
func (s *Service) GetEmailIdentity(ctx context.Context, in *sesv2.GetEmailIdentityRequest) (*sesv2.GetEmailIdentityResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	_, _, rec, err := s.getIdentity(ctx, acct, str(in.EmailIdentity))
	if err != nil {
		return nil, err
	}
	out := &sesv2.GetEmailIdentityResponse{
		IdentityType:             ptr(sesv2.IdentityType(rec.Type)),
		VerificationStatus:       ptr(sesv2.VerificationStatus(rec.Status)),
		VerifiedForSendingStatus: ptr(rec.Status == StatusSuccess),
		FeedbackForwardingStatus: ptr(rec.FeedbackForwarding),
		DkimAttributes:           dkimAttributes(rec),
		Policies:                 map[string]string{},
		Tags:                     rec.Tags,
	}
	if out.Tags == nil {
		out.Tags = []sesv2.Tag{}
	}
	if rec.ConfigurationSet != "" {
		out.ConfigurationSetName = ptr(rec.ConfigurationSet)
	}
	if rec.MailFromDomain != "" {
		out.MailFromAttributes = &sesv2.MailFromAttributes{
			MailFromDomain:       ptr(rec.MailFromDomain),
			MailFromDomainStatus: ptr(sesv2.MailFromDomainStatus(rec.MailFromStatus)),
			BehaviorOnMxFailure:  ptr(sesv2.BehaviorOnMxFailure(rec.MailFromBehavior)),
		}
	} else {
		out.MailFromAttributes = &sesv2.MailFromAttributes{MailFromDomain: ptr(""), MailFromDomainStatus: ptr(sesv2.MailFromDomainStatusFailed), BehaviorOnMxFailure: ptr(sesv2.BehaviorOnMxFailureUseDefaultValue)}
	}
	if !rec.LastChecked.IsZero() {
		vi := &sesv2.VerificationInfo{LastCheckedTimestamp: smithy.NewTime(rec.LastChecked)}
		if !rec.LastSuccess.IsZero() {
			vi.LastSuccessTimestamp = smithy.NewTime(rec.LastSuccess)
		}
		if rec.LastError != "" {
			vi.ErrorType = ptr(sesv2.VerificationError(rec.LastError))
		}
		out.VerificationInfo = vi
	}
	return out, nil
}

// ListEmailIdentities pages through the account's identities by name.
func (s *Service) ListEmailIdentities(ctx context.Context, in *sesv2.ListEmailIdentitiesRequest) (*sesv2.ListEmailIdentitiesResponse, error) {
	acct, size, after, err := listArgs(ctx, in.PageSize, in.NextToken, 1000)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.List(ctx, acct, KindIdentity, after, size+1)
	if err != nil {
		return nil, err
	}
	out := &sesv2.ListEmailIdentitiesResponse{EmailIdentities: []sesv2.IdentityInfo{}}
	for i, row := range rows {
		if i == size {
			out.NextToken = ptr(encodeToken(rows[i-1].Name))
			break
		}
		rec, err := decodeIdentity(&row)
		if err != nil {
			return nil, err
		}
		out.EmailIdentities = append(out.EmailIdentities, sesv2.IdentityInfo{
			IdentityName:       ptr(row.Name),
			IdentityType:       ptr(sesv2.IdentityType(rec.Type)),
			SendingEnabled:     ptr(rec.Status == StatusSuccess),
			VerificationStatus: ptr(sesv2.VerificationStatus(rec.Status)),
		})
	}
	return out, nil
}

// DeleteEmailIdentity deletes an identity (its key with it).
func (s *Service) DeleteEmailIdentity(ctx context.Context, in *sesv2.DeleteEmailIdentityRequest) (*sesv2.DeleteEmailIdentityResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	name, _, err := normalizeIdentity(str(in.EmailIdentity))
	if err != nil {
		return nil, err
	}
	if err := s.st.InTx(ctx, func(tx Tx) error { return tx.Delete(ctx, acct, KindIdentity, name) }); err != nil {
		return nil, err
	}
	return &sesv2.DeleteEmailIdentityResponse{}, nil
}

// updateIdentity applies fn to an identity in a transaction.
func (s *Service) updateIdentity(ctx context.Context, raw string, fn func(ctx context.Context, tx Tx, acct string, r *identityRecord) error) (*identityRecord, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	name, _, err := normalizeIdentity(raw)
	if err != nil {
		return nil, err
	}
	var rec *identityRecord
	err = s.st.InTx(ctx, func(tx Tx) error {
		res, err := tx.Get(ctx, acct, KindIdentity, name)
		if err != nil {
			return err
		}
		if rec, err = decodeIdentity(res); err != nil {
			return err
		}
		if err := fn(ctx, tx, acct, rec); err != nil {
			return err
		}
		return s.putIdentity(ctx, tx, acct, name, rec, res.CreatedAt)
	})
	return rec, err
}

// PutEmailIdentityDkimAttributes turns DKIM signing on or off.
func (s *Service) PutEmailIdentityDkimAttributes(ctx context.Context, in *sesv2.PutEmailIdentityDkimAttributesRequest) (*sesv2.PutEmailIdentityDkimAttributesResponse, error) {
	_, err := s.updateIdentity(ctx, str(in.EmailIdentity), func(_ context.Context, _ Tx, _ string, r *identityRecord) error {
		if r.Type != TypeDomain {
			return fault.Invalidf("DKIM signing attributes apply to domain identities only")
		}
		r.SigningEnabled = deref(in.SigningEnabled)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.PutEmailIdentityDkimAttributesResponse{}, nil
}

// PutEmailIdentityDkimSigningAttributes switches between Easy DKIM
// (AWS_SES: a new key) and BYODKIM (EXTERNAL: the key given); the DKIM
// status is PENDING again until the check job finds the record.
func (s *Service) PutEmailIdentityDkimSigningAttributes(ctx context.Context, in *sesv2.PutEmailIdentityDkimSigningAttributesRequest) (*sesv2.PutEmailIdentityDkimSigningAttributesResponse, error) {
	origin := string(deref(in.SigningAttributesOrigin))
	var key *dkimKey
	var err error
	switch {
	case origin == "EXTERNAL":
		a := deref(in.SigningAttributes)
		if key, err = parseBYODKIM(str(a.DomainSigningSelector), str(a.DomainSigningPrivateKey)); err != nil {
			return nil, err
		}
	case strings.HasPrefix(origin, "AWS_SES"):
		if key, err = newEasyDKIM(); err != nil {
			return nil, err
		}
	default:
		return nil, fault.Invalidf("SigningAttributesOrigin %q is not supported", origin)
	}
	now := s.now()
	rec, err := s.updateIdentity(ctx, str(in.EmailIdentity), func(ctx context.Context, tx Tx, acct string, r *identityRecord) error {
		if r.Type != TypeDomain {
			return fault.Invalidf("DKIM signing attributes apply to domain identities only")
		}
		r.DKIM, r.DKIMStatus, r.KeyGeneratedAt, r.SigningEnabled = key, StatusPending, now, true
		if r.Status != StatusSuccess {
			r.Status = StatusPending
		}
		r.PendingSince, r.Checks, r.NextCheck = now, 0, now.Add(firstCheck)
		return tx.Enqueue(ctx, CheckArgs{AccountID: acct, Identity: strings.ToLower(str(in.EmailIdentity)), NotBefore: r.NextCheck})
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.PutEmailIdentityDkimSigningAttributesResponse{
		DkimStatus: ptr(sesv2.DkimStatus(rec.DKIMStatus)),
		DkimTokens: slices.Clone(rec.DKIM.Tokens),
	}, nil
}

// PutEmailIdentityMailFromAttributes sets (or, with no domain, removes)
// the custom MAIL FROM domain, a subdomain of the identity's domain whose
// MX record the check job looks for.
func (s *Service) PutEmailIdentityMailFromAttributes(ctx context.Context, in *sesv2.PutEmailIdentityMailFromAttributesRequest) (*sesv2.PutEmailIdentityMailFromAttributesResponse, error) {
	now := s.now()
	_, err := s.updateIdentity(ctx, str(in.EmailIdentity), func(ctx context.Context, tx Tx, acct string, r *identityRecord) error {
		d := strings.ToLower(strings.TrimSuffix(str(in.MailFromDomain), "."))
		if d == "" {
			r.MailFromDomain, r.MailFromStatus, r.MailFromBehavior = "", "", ""
			return nil
		}
		ident := strings.ToLower(str(in.EmailIdentity))
		if at := strings.LastIndexByte(ident, '@'); at >= 0 {
			ident = ident[at+1:]
		}
		if !validDomain(d) || !strings.HasSuffix(d, "."+ident) {
			return fault.Invalidf("MAIL FROM domain %q must be a subdomain of %s", d, ident)
		}
		r.MailFromDomain, r.MailFromStatus = d, StatusPending
		r.MailFromBehavior = string(deref(in.BehaviorOnMxFailure))
		if r.MailFromBehavior == "" {
			r.MailFromBehavior = string(sesv2.BehaviorOnMxFailureUseDefaultValue)
		}
		if r.Type == TypeDomain {
			r.Checks, r.NextCheck = 0, now.Add(firstCheck)
			return tx.Enqueue(ctx, CheckArgs{AccountID: acct, Identity: strings.ToLower(str(in.EmailIdentity)), NotBefore: r.NextCheck})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.PutEmailIdentityMailFromAttributesResponse{}, nil
}

// PutEmailIdentityFeedbackAttributes records whether bounces and
// complaints are forwarded by email.
func (s *Service) PutEmailIdentityFeedbackAttributes(ctx context.Context, in *sesv2.PutEmailIdentityFeedbackAttributesRequest) (*sesv2.PutEmailIdentityFeedbackAttributesResponse, error) {
	_, err := s.updateIdentity(ctx, str(in.EmailIdentity), func(_ context.Context, _ Tx, _ string, r *identityRecord) error {
		r.FeedbackForwarding = deref(in.EmailForwardingEnabled)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.PutEmailIdentityFeedbackAttributesResponse{}, nil
}

// PutEmailIdentityConfigurationSetAttributes sets the identity's default
// configuration set.
func (s *Service) PutEmailIdentityConfigurationSetAttributes(ctx context.Context, in *sesv2.PutEmailIdentityConfigurationSetAttributesRequest) (*sesv2.PutEmailIdentityConfigurationSetAttributesResponse, error) {
	_, err := s.updateIdentity(ctx, str(in.EmailIdentity), func(ctx context.Context, tx Tx, acct string, r *identityRecord) error {
		cs := str(in.ConfigurationSetName)
		if cs != "" {
			if _, err := tx.Get(ctx, acct, KindConfigSet, cs); err != nil {
				return err
			}
		}
		r.ConfigurationSet = cs
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.PutEmailIdentityConfigurationSetAttributesResponse{}, nil
}

// MarkVerified marks an identity verified (and its DKIM and MAIL FROM
// checks successful) without looking at DNS or mail: for operators and
// tests (`tidings identities verify`).
func MarkVerified(ctx context.Context, st Store, acct, raw string, now time.Time) error {
	name, _, err := normalizeIdentity(raw)
	if err != nil {
		return err
	}
	return st.InTx(ctx, func(tx Tx) error {
		res, err := tx.Get(ctx, acct, KindIdentity, name)
		if err != nil {
			return err
		}
		r, err := decodeIdentity(res)
		if err != nil {
			return err
		}
		r.Status, r.LastSuccess, r.LastChecked, r.LastError = StatusSuccess, now, now, ""
		if r.Type == TypeDomain {
			r.DKIMStatus = StatusSuccess
			if r.MailFromDomain != "" {
				r.MailFromStatus = StatusSuccess
			}
		}
		body, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return tx.Put(ctx, &Resource{AccountID: acct, Kind: KindIdentity, Name: name, Status: r.column(), Body: body, CreatedAt: res.CreatedAt, UpdatedAt: now})
	})
}
