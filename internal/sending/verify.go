package sending

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/fault"
)

// Identity verification.
//
// A domain is verified by DNS: a check job per identity looks for the DKIM
// record of its first selector (holding the identity's public key) and for
// the SES v1 token (TXT at _amazonses.<domain>); either found makes the
// domain SUCCESS. Not found yet: PENDING, looked at again after 5 s, then
// doubling up to an hour, until 72 hours have passed (FAILED). A DNS
// failure (SERVFAIL, timeout): TEMPORARY_FAILURE, looked at again the same
// way. A custom MAIL FROM domain is SUCCESS when it has an MX record.
//
// An address is verified by a link mailed to it, signed with the node's
// link key, valid 24 hours: GET VerifyPrefix<token>.

const (
	firstCheck = 5 * time.Second
	maxCheck   = time.Hour
	linkTTL    = 24 * time.Hour
	// VerifyPrefix is the HTTP path of confirmation links.
	VerifyPrefix = "/_tidings/verify/"
	// DKIMPrefix serves the DKIM records a domain must publish:
	// GET DKIMPrefix<account>/<domain>.
	DKIMPrefix = "/_tidings/dkim/"
)

// Job kinds.
const (
	KindCheck   = "sending.check"
	KindConfirm = "sending.confirm"
	KindDeliver = "sending.deliver"
)

// CheckArgs checks the DNS records of a domain identity.
type CheckArgs struct {
	AccountID string    `json:"account_id"`
	Identity  string    `json:"identity"`
	NotBefore time.Time `json:"not_before,omitzero"`
}

func (CheckArgs) Kind() string { return KindCheck }

func (a CheckArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{ScheduledAt: a.NotBefore} }

// ConfirmArgs mails the confirmation link of an address identity.
type ConfirmArgs struct {
	AccountID string `json:"account_id"`
	Address   string `json:"address"`
}

func (ConfirmArgs) Kind() string { return KindConfirm }

// Resolver is what the DNS checks need; mailauth.Resolver satisfies it.
type Resolver interface {
	TXTResolver
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

type lookup int

const (
	found lookup = iota
	absent
	mismatch
	tempFail
)

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// lookupTXT reports whether a TXT record of name satisfies match.
func (s *Service) lookupTXT(ctx context.Context, name string, match func(string) bool) lookup {
	if s.cfg.Resolver == nil {
		return tempFail
	}
	recs, err := s.cfg.Resolver.LookupTXT(ctx, name)
	switch {
	case isNotFound(err):
		return absent
	case err != nil:
		return tempFail
	}
	if len(recs) == 0 {
		return absent
	}
	for _, r := range recs {
		if match(r) {
			return found
		}
	}
	return mismatch
}

// dkimMatches reports whether a DKIM key record (RFC 6376 3.6.1) holds
// the public key of want ("v=DKIM1; k=rsa; p=...").
func dkimMatches(record, want string) bool {
	p := func(rec string) string {
		for _, tag := range strings.Split(rec, ";") {
			k, v, ok := strings.Cut(tag, "=")
			if ok && strings.TrimSpace(k) == "p" {
				return strings.Join(strings.Fields(v), "")
			}
		}
		return ""
	}
	got := p(record)
	return got != "" && got == p(want)
}

// check is the sending.check job.
func (s *Service) check(ctx context.Context, a CheckArgs) error {
	res, err := s.st.Get(ctx, a.AccountID, KindIdentity, a.Identity)
	if fault.Is(err, fault.NotFound) {
		return nil // deleted
	}
	if err != nil {
		return err
	}
	rec, err := decodeIdentity(res)
	if err != nil || rec.Type != TypeDomain {
		return err
	}
	now := s.now()
	if !rec.NextCheck.IsZero() && now.Before(rec.NextCheck.Add(-time.Second)) {
		return nil // a later job of the chain owns the next check
	}
	domain := a.Identity
	rec.LastChecked = now
	rec.Checks++
	rec.LastError = ""
	temp := false

	if rec.DKIMStatus != StatusSuccess && rec.DKIM != nil {
		want, err := rec.DKIM.publicRecord()
		if err != nil {
			return err
		}
		switch s.lookupTXT(ctx, rec.DKIM.selector()+"._domainkey."+domain, func(r string) bool { return dkimMatches(r, want) }) {
		case found:
			rec.DKIMStatus = StatusSuccess
		case tempFail:
			rec.DKIMStatus, rec.LastError, temp = StatusTempFail, "DNS_SERVER_ERROR", true
		case mismatch:
			rec.DKIMStatus, rec.LastError = StatusPending, "INVALID_VALUE"
		default:
			rec.DKIMStatus, rec.LastError = StatusPending, "HOST_NOT_FOUND"
		}
	}
	verified := rec.DKIMStatus == StatusSuccess
	if !verified && rec.VerificationToken != "" {
		if s.lookupTXT(ctx, "_amazonses."+domain, func(r string) bool { return strings.TrimSpace(r) == rec.VerificationToken }) == found {
			verified = true
		}
	}
	switch {
	case verified:
		if rec.Status != StatusSuccess {
			s.log.Info("identity verified", "account", a.AccountID, "identity", domain)
		}
		rec.Status, rec.LastSuccess, rec.LastError = StatusSuccess, now, ""
	case temp:
		rec.Status = StatusTempFail
	case rec.Status != StatusSuccess:
		rec.Status = StatusPending
	}
	if rec.MailFromDomain != "" && rec.MailFromStatus != StatusSuccess && s.cfg.Resolver != nil {
		if r, ok := s.cfg.Resolver.(Resolver); ok {
			mxs, err := r.LookupMX(ctx, rec.MailFromDomain)
			switch {
			case err == nil && len(mxs) > 0:
				rec.MailFromStatus = StatusSuccess
			case err != nil && !isNotFound(err):
				rec.MailFromStatus = StatusTempFail
			default:
				rec.MailFromStatus = StatusPending
			}
		}
	}
	if now.Sub(rec.PendingSince) > pendingFor {
		if rec.Status != StatusSuccess {
			rec.Status, rec.DKIMStatus = StatusFailed, StatusFailed
		}
		if rec.MailFromStatus == StatusPending || rec.MailFromStatus == StatusTempFail {
			rec.MailFromStatus = StatusFailed
		}
	}
	var next *CheckArgs
	if rec.column() == statusCheck || (rec.DKIMStatus != StatusSuccess && rec.DKIMStatus != StatusFailed && rec.Status == StatusSuccess) {
		wait := firstCheck << min(rec.Checks, 20)
		wait = min(wait, maxCheck)
		rec.NextCheck = now.Add(wait)
		next = &CheckArgs{AccountID: a.AccountID, Identity: domain, NotBefore: rec.NextCheck}
	} else {
		rec.NextCheck = time.Time{}
	}
	return s.st.InTx(ctx, func(tx Tx) error {
		if err := s.putIdentity(ctx, tx, a.AccountID, domain, rec, res.CreatedAt); err != nil {
			return err
		}
		if next != nil {
			return tx.Enqueue(ctx, *next)
		}
		return nil
	})
}

type linkClaims struct {
	Account string `json:"a"`
	Address string `json:"e"`
	Expires int64  `json:"x"`
}

func (s *Service) signLink(c linkClaims) string {
	body, _ := json.Marshal(c)
	mac := hmac.New(sha256.New, s.cfg.LinkKey)
	mac.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Service) parseLink(tok string) (*linkClaims, error) {
	b64, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, errors.New("malformed link")
	}
	body, err1 := base64.RawURLEncoding.DecodeString(b64)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return nil, errors.New("malformed link")
	}
	mac := hmac.New(sha256.New, s.cfg.LinkKey)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return nil, errors.New("the link's signature is not valid")
	}
	var c linkClaims
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, errors.New("malformed link")
	}
	if s.now().Unix() > c.Expires {
		return nil, errors.New("the link has expired; create the identity again for a new one")
	}
	return &c, nil
}

// ConfirmationLink returns the link that verifies an address identity.
func (s *Service) ConfirmationLink(acct, address string) string {
	return strings.TrimSuffix(s.cfg.BaseURL, "/") + VerifyPrefix + s.signLink(linkClaims{Account: acct, Address: address, Expires: s.now().Add(linkTTL).Unix()})
}

// confirm is the sending.confirm job: it mails the confirmation link.
func (s *Service) confirm(ctx context.Context, a ConfirmArgs) error {
	res, err := s.st.Get(ctx, a.AccountID, KindIdentity, a.Address)
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if rec, err := decodeIdentity(res); err != nil || rec.Status == StatusSuccess {
		return err
	}
	if s.cfg.Deliverer == nil {
		return errors.New("no deliverer: confirmation mail cannot be sent")
	}
	link := s.ConfirmationLink(a.AccountID, a.Address)
	from := "no-reply@" + s.cfg.Hostname
	now := s.now().UTC()
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Tidings <%s>\r\nTo: <%s>\r\nSubject: Email Address Verification Request in region %s\r\n", from, a.Address, s.cfg.Region)
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", now.Format(time.RFC1123Z), newMessageID(now), s.cfg.Hostname)
	fmt.Fprintf(&b, "Someone asked to send email from <%s> through Tidings (account %s,\r\nregion %s).\r\n\r\nTo confirm that you own this address, open this link within 24 hours:\r\n\r\n%s\r\n\r\nIf you did not ask for this, ignore this message.\r\n", a.Address, a.AccountID, s.cfg.Region, link)
	msg := b.Bytes()
	dest := s.destination(a.Address)
	r := s.cfg.Deliverer.Deliver(ctx, dest, delivery.Envelope{MailFrom: "", Recipients: []string{a.Address}}, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(msg)), nil
	})
	rr := r.Recipients[0]
	switch rr.Status {
	case delivery.Delivered:
		s.log.Info("confirmation link mailed", "account", a.AccountID, "address", a.Address, "remote", rr.RemoteMTA)
		return nil
	case delivery.Failed:
		s.log.Warn("confirmation link could not be mailed", "account", a.AccountID, "address", a.Address, "reply", rr.Reply.String())
		return nil
	}
	return fmt.Errorf("confirmation to %s deferred: %s", a.Address, rr.Reply.String())
}

// VerifyHandler serves the confirmation links.
func (s *Service) VerifyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.URL.Path, VerifyPrefix)
		c, err := s.parseLink(tok)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!doctype html><title>Verification failed</title><p>%s</p>\n", html.EscapeString(err.Error()))
			return
		}
		err = MarkVerified(r.Context(), s.st, c.Account, c.Address, s.now())
		if err != nil {
			status := http.StatusInternalServerError
			if fault.Is(err, fault.NotFound) {
				status = http.StatusNotFound
			}
			w.WriteHeader(status)
			fmt.Fprintf(w, "<!doctype html><title>Verification failed</title><p>%s</p>\n", html.EscapeString(err.Error()))
			return
		}
		s.log.Info("identity verified by its confirmation link", "account", c.Account, "identity", c.Address)
		fmt.Fprintf(w, "<!doctype html><title>Verified</title><p>Congratulations! You have verified %s; you can now send email from it.</p>\n", html.EscapeString(c.Address))
	})
}

// DKIMHandler serves, as zone-file lines, the TXT records a domain
// identity's DKIM key needs: GET DKIMPrefix<account>/<domain>. The public
// key is public by nature; nothing else is shown.
func (s *Service) DKIMHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acct, domain, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, DKIMPrefix), "/")
		if !ok || acct == "" || domain == "" {
			http.Error(w, "want "+DKIMPrefix+"<account>/<domain>", http.StatusBadRequest)
			return
		}
		res, err := s.st.Get(r.Context(), acct, KindIdentity, strings.ToLower(domain))
		if err != nil {
			http.Error(w, "no such domain identity", http.StatusNotFound)
			return
		}
		rec, err := decodeIdentity(res)
		if err != nil || rec.DKIM == nil {
			http.Error(w, "no DKIM key for this identity", http.StatusNotFound)
			return
		}
		pub, err := rec.DKIM.publicRecord()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, t := range rec.DKIM.Tokens {
			fmt.Fprintf(w, "%s._domainkey.%s. 3600 IN TXT %s\n", t, res.Name, zoneQuote(pub))
		}
		if rec.VerificationToken != "" {
			fmt.Fprintf(w, "_amazonses.%s. 3600 IN TXT \"%s\"\n", res.Name, rec.VerificationToken)
		}
	})
}

// zoneQuote splits a TXT value into quoted strings of at most 255 octets
// (RFC 1035 3.3.14).
func zoneQuote(v string) string {
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	parts = append(parts, `"`+v+`"`)
	return strings.Join(parts, " ")
}

type checkWorker struct {
	river.WorkerDefaults[CheckArgs]
	s *Service
}

func (w *checkWorker) Work(ctx context.Context, job *river.Job[CheckArgs]) error {
	return w.s.check(ctx, job.Args)
}

type confirmWorker struct {
	river.WorkerDefaults[ConfirmArgs]
	s *Service
}

func (w *confirmWorker) Work(ctx context.Context, job *river.Job[ConfirmArgs]) error {
	return w.s.confirm(ctx, job.Args)
}
