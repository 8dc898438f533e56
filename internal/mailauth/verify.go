// Package mailauth checks the authenticity of received mail: SPF (RFC 7208),
// DKIM (RFC 6376) and DMARC (RFC 7489), and writes the verdicts as an
// Authentication-Results header (RFC 8601) and as message.Auth for the
// traffic policies and rules.
//
// DNS goes through a Resolver, which tests and TIDINGS_DNS point at a server
// of their choosing.
//
// ARC (RFC 8617): the chain a message arrives with is validated (arc= in
// Authentication-Results, Auth.ARC), and a Sealer adds a set to messages
// passed on.
package mailauth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/tidings/tidings/internal/message"
)

// Config configures a Verifier.
type Config struct {
	// AuthservID names this server in Authentication-Results (RFC 8601
	// 2.5), usually its host name. Default: os.Hostname().
	AuthservID string
	// Resolver answers the DNS queries; default: the system resolver.
	Resolver Resolver
	Logger   *slog.Logger
	// MaxHeaderBytes bounds the header section held in memory; a larger
	// one makes DKIM and DMARC PROCESSING_FAILED. Default 1 MiB.
	MaxHeaderBytes int
	// MaxSignatures bounds the DKIM signatures verified per message
	// (RFC 6376 8.4: signatures cost the verifier); default 8.
	MaxSignatures int
}

// Verifier runs the checks on received messages. It is safe for concurrent
// use.
type Verifier struct {
	id       string
	resolver Resolver
	log      *slog.Logger
	maxHdr   int
	maxSigs  int
}

// NewVerifier returns a Verifier, or an error if cfg.AuthservID is not a
// valid authserv-id.
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{
		id:       cfg.AuthservID,
		resolver: cfg.Resolver,
		log:      cfg.Logger,
		maxHdr:   cfg.MaxHeaderBytes,
		maxSigs:  cfg.MaxSignatures,
	}
	if v.id == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("mailauth: no authserv-id configured and no host name: %w", err)
		}
		v.id = h
	}
	// A token keeps the header simple to read back (IsOwnResults) and
	// leaves no room for quoting mistakes.
	if !isToken(v.id) {
		return nil, fmt.Errorf("mailauth: authserv-id %q is not a token (RFC 8601 2.2)", v.id)
	}
	if v.resolver == nil {
		v.resolver = net.DefaultResolver
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.maxHdr <= 0 {
		v.maxHdr = 1 << 20
	}
	if v.maxSigs <= 0 {
		v.maxSigs = 8
	}
	return v, nil
}

// AuthservID returns the authserv-id the Verifier writes.
func (v *Verifier) AuthservID() string { return v.id }

// Origin is what the SMTP session said about a message's sender.
type Origin struct {
	RemoteIP netip.Addr
	Helo     string
	MailFrom string // reverse-path without brackets; "" is the null sender
	AuthUser string // SMTP AUTH identity, "" when none
}

// OriginOf returns the Origin of a received message.
func OriginOf(env *message.Envelope) Origin {
	return Origin{
		RemoteIP: env.Conn.RemoteIP,
		Helo:     env.Conn.Helo,
		MailFrom: env.MailFrom,
		AuthUser: env.Conn.AuthUser,
	}
}

// Verify checks the message read from msg, in wire form (header, empty line,
// body; CRLF or LF line ends), sent by o. It reads the header section once,
// keeping at most MaxHeaderBytes of it, and streams the body through the
// DKIM body hashes; it may stop reading before the end (when there is no
// signature to check).
//
// DNS failures and malformed records are verdicts, not errors: the error is
// non-nil only when msg could not be read or ctx ended, and then the Auth
// returned is not to be trusted.
//
// The verdicts (message.Verdict) mean:
//
//	SPF:   pass → PASS; fail → FAIL; softfail, neutral, none → GRAY;
//	       temperror, permerror → PROCESSING_FAILED.
//	DKIM:  PASS when a signature verifies; GRAY when there is none; FAIL
//	       when none verifies and a failure was permanent (bad signature,
//	       body hash mismatch, missing key: RFC 6376 "fail"/"permerror");
//	       PROCESSING_FAILED when every failure was temporary (DNS) or the
//	       header was too large to check.
//	DMARC: pass → PASS; fail → FAIL; no policy published or no From
//	       domain → GRAY ("none"); temperror, permerror → PROCESSING_FAILED.
//
// With several author domains in From (RFC 7489 6.6.1), each is checked and
// the worst verdict and strictest policy are kept.
func (v *Verifier) Verify(ctx context.Context, o Origin, msg io.Reader) (message.Auth, error) {
	var infos []resinfo
	if o.AuthUser != "" {
		// RFC 8601 2.7.4: the sender authenticated with SMTP AUTH.
		infos = append(infos, resinfo{method: "auth", result: "pass", props: []prop{{"smtp.auth", o.AuthUser}}})
	}

	// SPF needs only the session: run it while the message is read.
	spfDone := make(chan spfOutcome, 1)
	go func() { spfDone <- v.checkSPF(ctx, o) }()

	src := &errReader{r: msg}
	br := bufio.NewReaderSize(src, 32<<10)
	raw, fields, hdrErr := readHeader(br, v.maxHdr)
	var dk dkimOutcome
	var arc *arcCheck
	switch {
	case errors.Is(hdrErr, errHeaderTooLarge):
		dk = dkimOutcome{verdict: message.ProcessingFailed,
			infos: []resinfo{{method: "dkim", result: "permerror", reason: "header section too large"}}}
	case hdrErr != nil:
		<-spfDone
		return message.Auth{}, fmt.Errorf("mailauth: reading message: %w", hdrErr)
	default:
		// The newest ARC-Message-Signature's body hash is computed from
		// the body as DKIM reads it, and from the rest if DKIM did not.
		arc = newARCCheck(raw)
		var body io.Reader = br
		if arc.body != nil {
			body = io.TeeReader(br, arc.body)
		}
		dk = v.checkDKIM(ctx, raw, fields, body)
		if arc.body != nil {
			if _, err := io.Copy(arc.body, br); err != nil && src.err == nil {
				src.err = err
			}
		}
	}
	spfRes := <-spfDone
	if src.err != nil {
		return message.Auth{}, fmt.Errorf("mailauth: reading message: %w", src.err)
	}
	if err := ctx.Err(); err != nil {
		return message.Auth{}, err
	}

	var dm dmarcOutcome
	if hdrErr != nil {
		dm = dmarcOutcome{verdict: message.ProcessingFailed,
			info: resinfo{method: "dmarc", result: "permerror", reason: "header section too large"}}
	} else {
		var froms []string
		for _, f := range fields {
			if strings.EqualFold(f.name, "From") {
				froms = append(froms, f.value)
			}
		}
		dm = v.checkDMARC(ctx, fromDomains(froms), spfRes, dk)
	}

	ar := arcOutcome{result: ARCFail, info: resinfo{method: "arc", result: string(ARCFail), reason: "header section too large"}}
	if arc != nil {
		ar = v.arcResult(ctx, arc)
	}

	infos = append(infos, spfRes.info)
	infos = append(infos, dk.infos...)
	infos = append(infos, dm.info, ar.info)
	auth := message.Auth{
		SPF:           spfRes.verdict,
		DKIM:          dk.verdict,
		DMARC:         dm.verdict,
		DMARCPolicy:   dm.policy,
		ARC:           string(ar.result),
		ResultsHeader: formatResults(v.id, infos),
	}
	v.log.DebugContext(ctx, "mailauth verdicts", "ip", o.RemoteIP, "mail_from", o.MailFrom,
		"spf", auth.SPF, "dkim", auth.DKIM, "dmarc", auth.DMARC, "dmarc_policy", auth.DMARCPolicy, "arc", auth.ARC)
	return auth, nil
}

// errReader remembers the first read error of the message source, so that a
// failure to read the message is told apart from a failure of a check.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

type spfOutcome struct {
	verdict message.Verdict
	result  spf.Result
	domain  string // the domain checked: MAIL FROM's, or HELO's for <>
	info    resinfo
}

// checkSPF checks the MAIL FROM identity, or the HELO identity for the null
// sender (RFC 7208 2.4).
func (v *Verifier) checkSPF(ctx context.Context, o Origin) spfOutcome {
	sender := o.MailFrom
	domain := domainOf(sender)
	identity := prop{"smtp.mailfrom", sender}
	if sender == "" || domain == "" {
		// RFC 7208 2.4: with the null sender, check
		// "postmaster@<HELO>".
		domain = normalizeDomain(o.Helo)
		sender = "postmaster@" + domain
		identity = prop{"smtp.helo", o.Helo}
	}
	out := spfOutcome{domain: domain}
	if !o.RemoteIP.IsValid() {
		out.result = spf.PermError
		out.verdict = message.ProcessingFailed
		out.info = resinfo{method: "spf", result: string(spf.PermError), reason: "no client address", props: []prop{identity}}
		return out
	}
	var res spf.Result
	var err error
	_, literalErr := netip.ParseAddr(strings.Trim(domain, "[]"))
	if domain == "" || literalErr == nil || strings.HasPrefix(domain, "[") {
		// An address literal or nothing at all: no domain to ask
		// (RFC 7208 4.3).
		res = spf.None
	} else {
		res, err = spf.CheckHostWithSender(net.IP(o.RemoteIP.Unmap().AsSlice()), normalizeDomain(o.Helo), sender,
			spf.WithContext(ctx), spf.WithResolver(spfResolver{v.resolver}))
	}
	out.result = res
	out.verdict = spfVerdict(res)
	out.info = resinfo{method: "spf", result: string(res), props: []prop{identity}}
	if (res == spf.TempError || res == spf.PermError) && err != nil {
		out.info.reason = err.Error()
	}
	if out.info.result == "" {
		out.info.result = string(spf.PermError)
	}
	return out
}

// spfVerdict maps an SPF result (RFC 7208 2.6) onto a verdict.
func spfVerdict(r spf.Result) message.Verdict {
	switch r {
	case spf.Pass:
		return message.Pass
	case spf.Fail:
		return message.Fail
	case spf.SoftFail, spf.Neutral, spf.None:
		return message.Gray
	default: // temperror, permerror
		return message.ProcessingFailed
	}
}

type dkimOutcome struct {
	verdict message.Verdict
	passed  []string // d= of the signatures that verified
	infos   []resinfo
}

// checkDKIM verifies every DKIM-Signature of the message (up to
// MaxSignatures), feeding the verifier the header already read and then the
// rest of the message.
func (v *Verifier) checkDKIM(ctx context.Context, raw []byte, fields []field, body io.Reader) dkimOutcome {
	var sigs []string
	for _, f := range fields {
		if strings.EqualFold(f.name, "DKIM-Signature") {
			sigs = append(sigs, f.value)
		}
	}
	if len(sigs) == 0 {
		return dkimOutcome{verdict: message.Gray, infos: []resinfo{{method: "dkim", result: "none"}}}
	}
	opts := &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return v.resolver.LookupTXT(ctx, name) },
		MaxVerifications: v.maxSigs,
	}
	verifs, err := dkim.VerifyWithOptions(ioMultiReader(raw, body), opts)
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// Not a verdict on a signature: the message could not be read,
		// or the verifier gave up on it.
		v.log.DebugContext(ctx, "dkim verification failed", "err", err)
		return dkimOutcome{verdict: message.ProcessingFailed,
			infos: []resinfo{{method: "dkim", result: "temperror", reason: err.Error()}}}
	}

	out := dkimOutcome{}
	var permanent bool
	for i, vf := range verifs {
		ri := resinfo{method: "dkim"}
		switch {
		case vf.Err == nil:
			ri.result = "pass"
			out.passed = append(out.passed, normalizeDomain(vf.Domain))
		case dkim.IsTempFail(vf.Err):
			ri.result = "temperror"
		case dkim.IsPermFail(vf.Err):
			ri.result = "permerror"
			permanent = true
		default:
			ri.result = "fail" // the signature or body hash does not match
			permanent = true
		}
		if vf.Err != nil {
			ri.reason = strings.TrimPrefix(vf.Err.Error(), "dkim: ")
		}
		// RFC 8601 2.7.1 and RFC 6008: header.d, header.i, header.s and
		// the first characters of header.b tell signatures apart.
		ri.props = append(ri.props, prop{"header.d", vf.Domain}, prop{"header.i", vf.Identifier})
		if i < len(sigs) {
			ri.props = append(ri.props, prop{"header.s", tagValue(sigs[i], "s")})
			if b := tagValue(sigs[i], "b"); b != "" {
				ri.props = append(ri.props, prop{"header.b", b[:min(len(b), 8)]})
			}
		}
		out.infos = append(out.infos, ri)
	}
	switch {
	case len(out.passed) > 0:
		out.verdict = message.Pass
	case permanent:
		out.verdict = message.Fail
	default:
		out.verdict = message.ProcessingFailed
	}
	return out
}

type dmarcOutcome struct {
	verdict message.Verdict
	policy  string // NONE, QUARANTINE, REJECT or ""
	info    resinfo
}

// verdictRank orders verdicts from best to worst, to keep the worst when a
// message has several author domains.
var verdictRank = map[message.Verdict]int{message.Pass: 0, message.Gray: 1, message.ProcessingFailed: 2, message.Fail: 3}

var policyRank = map[dmarc.Policy]int{"": 0, dmarc.PolicyNone: 1, dmarc.PolicyQuarantine: 2, dmarc.PolicyReject: 3}

// maxAuthorDomains bounds the DNS work a crafted From can cause.
const maxAuthorDomains = 4

// checkDMARC evaluates the DMARC policy of each author domain (RFC 7489 6.6).
func (v *Verifier) checkDMARC(ctx context.Context, domains []string, spfRes spfOutcome, dk dkimOutcome) dmarcOutcome {
	switch {
	case len(domains) == 0:
		// RFC 7489 6.6.1: no usable author domain.
		return dmarcOutcome{verdict: message.Gray, info: resinfo{method: "dmarc", result: "none", reason: "no From domain"}}
	case len(domains) > maxAuthorDomains:
		return dmarcOutcome{verdict: message.ProcessingFailed,
			info: resinfo{method: "dmarc", result: "permerror", reason: "too many From domains"}}
	}
	var worst dmarcOutcome
	var strictest dmarc.Policy
	for i, d := range domains {
		out, pol := v.checkDMARCDomain(ctx, d, spfRes, dk)
		if i == 0 || verdictRank[out.verdict] > verdictRank[worst.verdict] {
			worst = out
		}
		if policyRank[pol] > policyRank[strictest] {
			strictest = pol
		}
	}
	worst.policy = strings.ToUpper(string(strictest))
	return worst
}

func (v *Verifier) checkDMARCDomain(ctx context.Context, from string, spfRes spfOutcome, dk dkimOutcome) (dmarcOutcome, dmarc.Policy) {
	info := resinfo{method: "dmarc", props: []prop{{"header.from", from}}}
	fail := func(verdict message.Verdict, result, reason string) (dmarcOutcome, dmarc.Policy) {
		info.result, info.reason = result, reason
		return dmarcOutcome{verdict: verdict, info: info}, ""
	}

	// RFC 7489 6.6.3: the author domain's record, else the organisational
	// domain's.
	org := orgDomain(from)
	rec, err := v.lookupDMARC(ctx, from)
	atOrg := false
	if errors.Is(err, dmarc.ErrNoPolicy) && org != from {
		rec, err = v.lookupDMARC(ctx, org)
		atOrg = true
	}
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		return fail(message.Gray, "none", "")
	case dmarc.IsTempFail(err):
		return fail(message.ProcessingFailed, "temperror", strings.TrimPrefix(err.Error(), "dmarc: "))
	case err != nil:
		return fail(message.ProcessingFailed, "permerror", strings.TrimPrefix(err.Error(), "dmarc: "))
	}

	// RFC 7489 6.3: sp= applies to subdomains of the organisational domain
	// whose record was found there.
	policy := rec.Policy
	if atOrg && rec.SubdomainPolicy != "" {
		policy = rec.SubdomainPolicy
	}
	info.comment = "p=" + string(policy)

	// RFC 7489 3.1: identifier alignment, relaxed (same organisational
	// domain) or strict (the same domain).
	spfAligned := spfRes.result == spf.Pass && aligned(spfRes.domain, from, org, rec.SPFAlignment)
	dkimAligned := false
	for _, d := range dk.passed {
		if aligned(d, from, org, rec.DKIMAlignment) {
			dkimAligned = true
			break
		}
	}
	if spfAligned || dkimAligned {
		info.result = "pass"
		return dmarcOutcome{verdict: message.Pass, info: info}, policy
	}
	info.result = "fail"
	return dmarcOutcome{verdict: message.Fail, info: info}, policy
}

func (v *Verifier) lookupDMARC(ctx context.Context, domain string) (*dmarc.Record, error) {
	return dmarc.LookupWithOptions(domain, &dmarc.LookupOptions{
		LookupTXT: func(name string) ([]string, error) { return v.resolver.LookupTXT(ctx, name) },
	})
}

// aligned reports whether an authenticated domain d is aligned with the
// author domain from, whose organisational domain is org.
func aligned(d, from, org string, mode dmarc.AlignmentMode) bool {
	if d == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return d == from
	}
	return orgDomain(d) == org
}

// orgDomain returns the organisational domain of d (RFC 7489 3.2): the
// public suffix plus one label, by the public suffix list compiled into
// golang.org/x/net/publicsuffix. A domain that is itself a public suffix
// is its own organisational domain.
func orgDomain(d string) string {
	od, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return od
}

func ioMultiReader(raw []byte, rest io.Reader) io.Reader {
	return io.MultiReader(bytes.NewReader(raw), rest)
}
