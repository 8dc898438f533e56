package rules

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/message"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// Policy is a compiled traffic policy.
//
// Order of evaluation (SES Developer Guide, "Traffic policies and policy
// statements", https://docs.aws.amazon.com/ses/latest/dg/eb-filters.html):
// a traffic policy "executes [its statements] in an order that's based on
// the implicit hierarchy of how it evaluates email": first the statements
// that block (any one that matches blocks), then the statements that allow
// (any one that matches allows), then the default action; the maximum
// message size applies on top. So a matching DENY wins over a matching ALLOW
// wherever the two stand in the list; within each group statements are
// tried in list order, which only decides which one is reported. A
// statement matches when all its conditions hold (PolicyStatement: a
// statement's Conditions are a list that must all be met).
//
// Staging. SMTP reveals the facts a policy reads one by one: the client's IP
// (and, for implicit TLS, the TLS version) at connect, the TLS version after
// STARTTLS, each recipient at RCPT. A recipient condition makes a policy
// per-recipient, as SMTP answers each RCPT on its own (RFC 5321 3.3): one
// message can be refused for one recipient and accepted for another.
// ConnectDecision answers early only when no recipient could change the
// outcome; RecipientDecision answers for one recipient with every fact
// known.
type Policy struct {
	deny, allow []policyStatement
	def         bool // default action is ALLOW
	maxSize     int64
	opts        options
	warnings    []string
	addons      int // add-on conditions
}

type policyStatement struct {
	index int // position in the policy's statement list
	conds []policyCond
}

// stage is what is known when a policy is judged.
type stage struct {
	conn   *message.Conn
	rcpt   string
	atRcpt bool // a recipient is known; so is the final TLS state
	atData bool // the message is received: add-on conditions can be judged
	msg    *Message
}

type policyCond interface {
	eval(ctx context.Context, p *Policy, st *stage, res *PolicyResult) (tri, error)
}

// PolicyResult is a traffic policy's answer for one recipient.
type PolicyResult struct {
	Allow bool
	// Statement is the index of the deciding statement, or -1 when the
	// default action decided.
	Statement int
	// Warnings name conditions that could not be judged (no add-on
	// configured, add-on failure) and were taken as not holding.
	Warnings []string
	// Pending: the outcome depends on add-on conditions, judged after DATA
	// (EvaluateMessage). Allow is true meanwhile.
	Pending bool
	// Unavailable: an add-on analysis failed (or none is configured) and its
	// conditions were taken as not holding.
	Unavailable bool
}

// CompilePolicy compiles a traffic policy from its model form.
// maxMessageSizeBytes is the policy's MaxMessageSizeBytes (nil: no limit).
// Errors are fault.Invalid and name the offending statement and condition.
func CompilePolicy(statements []mm.PolicyStatement, defaultAction mm.AcceptAction, maxMessageSizeBytes *int64, opts ...Option) (*Policy, error) {
	p := &Policy{opts: buildOptions(opts)}
	switch defaultAction {
	case mm.AcceptActionAllow:
		p.def = true
	case mm.AcceptActionDeny:
	default:
		return nil, fault.Invalidf("traffic policy: unknown default action %q", defaultAction)
	}
	if n := deref(maxMessageSizeBytes); n < 0 {
		return nil, fault.Invalidf("traffic policy: MaxMessageSizeBytes %d is negative", n)
	} else {
		p.maxSize = n
	}
	for i, s := range statements {
		ps := policyStatement{index: i}
		if len(s.Conditions) == 0 {
			return nil, fault.Invalidf("policy statement %d: no conditions", i)
		}
		for j, c := range s.Conditions {
			pc, err := p.compileCond(c)
			if err != nil {
				return nil, fault.Invalidf("policy statement %d, condition %d: %v", i, j, err)
			}
			ps.conds = append(ps.conds, pc)
		}
		switch deref(s.Action) {
		case mm.AcceptActionAllow:
			p.allow = append(p.allow, ps)
		case mm.AcceptActionDeny:
			p.deny = append(p.deny, ps)
		default:
			return nil, fault.Invalidf("policy statement %d: unknown action %q", i, deref(s.Action))
		}
	}
	return p, nil
}

// MaxMessageSizeBytes is the policy's size limit, 0 when it sets none. AWS
// discards larger messages; at SMTP time that is SIZE and a 552 (RFC 1870).
func (p *Policy) MaxMessageSizeBytes() int64 { return p.maxSize }

// Warnings lists problems found at compile time that make conditions
// unjudgeable (an add-on condition with no Analyzer configured).
func (p *Policy) Warnings() []string { return p.warnings }

// ConnectDecision judges the policy with what is known at connect (or again
// after STARTTLS). decided is false when the outcome may still depend on a
// recipient — a statement with a recipient, address-list or add-on condition
// whose other conditions hold — or on TLS not yet negotiated (a TLS condition
// on a cleartext session the client may still upgrade with STARTTLS). When
// decided, allow is the outcome for every recipient this connection could
// name, so a DENY can be answered at once (554 at connect, RFC 5321 3.1).
func (p *Policy) ConnectDecision(ctx context.Context, conn *message.Conn) (decided, allow bool) {
	res := PolicyResult{Statement: -1}
	decided, _ = p.judge(ctx, &stage{conn: connOrZero(conn)}, &res)
	return decided, decided && res.Allow
}

// RecipientDecision judges the policy for one recipient (RCPT TO), with every
// fact known. A failed address-list lookup counts as the condition not
// holding; callers that can answer 451 should use Evaluate and tempfail on
// its error instead.
func (p *Policy) RecipientDecision(ctx context.Context, conn *message.Conn, rcpt string) bool {
	res, err := p.Evaluate(ctx, conn, rcpt)
	if err != nil {
		p.opts.log.WarnContext(ctx, "traffic policy: condition lookup failed", "rcpt", rcpt, "err", err)
	}
	return res.Allow
}

// Evaluate judges the policy for one recipient (RCPT TO) and says why. A
// non-nil error means an address-list lookup failed: the result is then
// what the policy decides with that condition taken as not holding, and an
// SMTP server should rather answer 451 4.3.0 so the client retries.
//
// Add-on conditions are judged after DATA, with the message (the add-on
// Tidings runs, rspamd, reads it): when the outcome depends on them, the
// result is Pending (and Allow, so that the RCPT is accepted) and the
// server judges again with EvaluateMessage once the message is received.
func (p *Policy) Evaluate(ctx context.Context, conn *message.Conn, rcpt string) (PolicyResult, error) {
	res := PolicyResult{Statement: -1}
	decided, err := p.judge(ctx, &stage{conn: connOrZero(conn), rcpt: rcpt, atRcpt: true}, &res)
	if !decided {
		res.Pending, res.Allow, res.Statement = true, true, -1
	}
	p.logWarnings(ctx, rcpt, res.Warnings)
	return res, err
}

// EvaluateMessage judges the policy for one recipient once the message is
// received, add-on conditions included; msg is shared by every recipient
// of the message, so each add-on analyses it once. Add-on failures are not
// errors: the condition does not hold, a warning is returned and the
// result is marked Unavailable, so an add-on outage does not stop mail
// that a DENY statement on the add-on would have refused, and a deny that
// may be the outage's doing (an ALLOW statement on the add-on that could
// not be judged) can be answered with a temporary failure.
func (p *Policy) EvaluateMessage(ctx context.Context, conn *message.Conn, rcpt string, msg *Message) (PolicyResult, error) {
	if msg == nil {
		msg = &Message{}
	}
	res := PolicyResult{Statement: -1}
	_, err := p.judge(ctx, &stage{conn: connOrZero(conn), rcpt: rcpt, atRcpt: true, atData: true, msg: msg}, &res)
	p.logWarnings(ctx, rcpt, res.Warnings)
	return res, err
}

// NeedsMessage reports whether the policy has add-on conditions, which are
// judged with EvaluateMessage after DATA.
func (p *Policy) NeedsMessage() bool { return p.addons > 0 }

func (p *Policy) logWarnings(ctx context.Context, rcpt string, ws []string) {
	for _, w := range ws {
		p.opts.log.WarnContext(ctx, "traffic policy: "+w, "rcpt", rcpt)
	}
}

// judge evaluates the policy at stage st. Outcome = deny if some DENY
// statement holds, else allow if some ALLOW statement holds, else the
// default. With three-valued statements (a fact not known yet at st) the
// reachable outcomes are worked out, and the policy is decided only when
// one outcome is reachable; res.Allow and res.Statement are then set.
func (p *Policy) judge(ctx context.Context, st *stage, res *PolicyResult) (decided bool, err error) {
	note := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	denyMaybe := false
	for _, s := range p.deny {
		v, e := s.eval(ctx, p, st, res)
		note(e)
		switch v {
		case yes:
			res.Allow, res.Statement = false, s.index
			return true, err
		case unknown:
			denyMaybe = true
		}
	}
	allowAt, allowMaybe := -1, false
	for _, s := range p.allow {
		v, e := s.eval(ctx, p, st, res)
		note(e)
		if v == yes {
			allowAt = s.index
			break
		}
		if v == unknown {
			allowMaybe = true
		}
	}
	canAllow := allowAt >= 0 || allowMaybe || p.def
	canDeny := denyMaybe || allowAt < 0 && !p.def
	if canAllow && canDeny {
		return false, err
	}
	res.Allow, res.Statement = canAllow, -1
	if canAllow && allowAt >= 0 {
		res.Statement = allowAt
	}
	return true, err
}

func connOrZero(c *message.Conn) *message.Conn {
	if c == nil {
		return &message.Conn{}
	}
	return c
}

// eval is the statement's three-valued conjunction: no if any condition is
// no, yes if all are yes, else unknown.
func (s policyStatement) eval(ctx context.Context, p *Policy, st *stage, res *PolicyResult) (tri, error) {
	out := yes
	var firstErr error
	for _, c := range s.conds {
		v, err := c.eval(ctx, p, st, res)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		switch v {
		case no:
			return no, firstErr
		case unknown:
			out = unknown
		}
	}
	return out, firstErr
}

func (p *Policy) compileCond(c mm.PolicyCondition) (policyCond, error) {
	n := 0
	for _, set := range []bool{c.BooleanExpression != nil, c.IpExpression != nil, c.Ipv6Expression != nil, c.StringExpression != nil, c.TlsExpression != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("exactly one expression must be set, %d are", n)
	}
	switch {
	case c.IpExpression != nil:
		e := c.IpExpression
		if e.Evaluate == nil || deref(e.Evaluate.Attribute) != mm.IngressIpv4AttributeSenderIp {
			return nil, fmt.Errorf("IpExpression: attribute must be SENDER_IP")
		}
		m, err := newIPMatcher(string(deref(e.Operator)), e.Values, v4Only)
		if err != nil {
			return nil, fmt.Errorf("IpExpression: %w", err)
		}
		return ipCond{m}, nil
	case c.Ipv6Expression != nil:
		e := c.Ipv6Expression
		if e.Evaluate == nil || deref(e.Evaluate.Attribute) != mm.IngressIpv6AttributeSenderIpv6 {
			return nil, fmt.Errorf("Ipv6Expression: attribute must be SENDER_IPV6")
		}
		m, err := newIPMatcher(string(deref(e.Operator)), e.Values, v6Only)
		if err != nil {
			return nil, fmt.Errorf("Ipv6Expression: %w", err)
		}
		return ipCond{m}, nil
	case c.TlsExpression != nil:
		e := c.TlsExpression
		if e.Evaluate == nil || deref(e.Evaluate.Attribute) != mm.IngressTlsAttributeTlsProtocol {
			return nil, fmt.Errorf("TlsExpression: attribute must be TLS_PROTOCOL")
		}
		want := tlsRank(string(deref(e.Value)))
		if want == 0 {
			return nil, fmt.Errorf("TlsExpression: unknown TLS version %q", deref(e.Value))
		}
		switch op := deref(e.Operator); op {
		case mm.IngressTlsProtocolOperatorMinimumTlsVersion:
			return tlsCond{want: want, minimum: true}, nil
		case mm.IngressTlsProtocolOperatorIs:
			return tlsCond{want: want}, nil
		default:
			return nil, fmt.Errorf("TlsExpression: unknown operator %q", op)
		}
	case c.StringExpression != nil:
		e := c.StringExpression
		m, err := newStrMatcher(string(deref(e.Operator)), e.Values)
		if err != nil {
			return nil, fmt.Errorf("StringExpression: %w", err)
		}
		switch {
		case e.Evaluate == nil:
			return nil, fmt.Errorf("StringExpression: Evaluate is required")
		case e.Evaluate.Attribute != nil && e.Evaluate.Analysis == nil:
			if *e.Evaluate.Attribute != mm.IngressStringEmailAttributeRecipient {
				return nil, fmt.Errorf("StringExpression: unknown attribute %q", *e.Evaluate.Attribute)
			}
			return rcptStringCond{m}, nil
		case e.Evaluate.Analysis != nil && e.Evaluate.Attribute == nil:
			a, err := p.compileAnalysis(e.Evaluate.Analysis)
			if err != nil {
				return nil, fmt.Errorf("StringExpression: %w", err)
			}
			return analysisStringCond{a, m}, nil
		default:
			return nil, fmt.Errorf("StringExpression: exactly one of Attribute and Analysis must be set")
		}
	default:
		e := c.BooleanExpression
		var negate bool
		switch op := deref(e.Operator); op {
		case mm.IngressBooleanOperatorIsTrue:
		case mm.IngressBooleanOperatorIsFalse:
			negate = true
		default:
			return nil, fmt.Errorf("BooleanExpression: unknown operator %q", op)
		}
		switch {
		case e.Evaluate == nil:
			return nil, fmt.Errorf("BooleanExpression: Evaluate is required")
		case e.Evaluate.IsInAddressList != nil && e.Evaluate.Analysis == nil:
			l := e.Evaluate.IsInAddressList
			if deref(l.Attribute) != mm.IngressAddressListEmailAttributeRecipient {
				return nil, fmt.Errorf("IsInAddressList: attribute must be RECIPIENT")
			}
			if len(l.AddressLists) == 0 {
				return nil, fmt.Errorf("IsInAddressList: no address lists")
			}
			return rcptListCond{lists: l.AddressLists, negate: negate}, nil
		case e.Evaluate.Analysis != nil && e.Evaluate.IsInAddressList == nil:
			a, err := p.compileAnalysis(e.Evaluate.Analysis)
			if err != nil {
				return nil, fmt.Errorf("BooleanExpression: %w", err)
			}
			return analysisBoolCond{a, negate}, nil
		default:
			return nil, fmt.Errorf("BooleanExpression: exactly one of IsInAddressList and Analysis must be set")
		}
	}
}

func (p *Policy) compileAnalysis(a *mm.IngressAnalysis) (analysisRef, error) {
	r := analysisRef{analyzer: deref(a.Analyzer), field: deref(a.ResultField)}
	if r.analyzer == "" || r.field == "" {
		return r, fmt.Errorf("add-on analysis needs Analyzer and ResultField")
	}
	p.addons++
	if p.opts.analyzer == nil {
		p.warnings = append(p.warnings, fmt.Sprintf("add-on condition on %s/%s: no add-on analyzer configured; the condition never holds", r.analyzer, r.field))
	}
	return r, nil
}

type analysisRef struct{ analyzer, field string }

// tlsRank orders TLS versions by their model names; 0 is none or unknown.
func tlsRank(v string) int {
	switch v {
	case "TLS1_0":
		return 10
	case "TLS1_1":
		return 11
	case "TLS1_2":
		return 12
	case "TLS1_3":
		return 13
	}
	return 0
}

type ipCond struct{ m ipMatcher }

func (c ipCond) eval(_ context.Context, _ *Policy, st *stage, _ *PolicyResult) (tri, error) {
	return triOf(c.m.match(st.conn.RemoteIP)), nil
}

type tlsCond struct {
	want    int
	minimum bool
}

func (c tlsCond) eval(_ context.Context, _ *Policy, st *stage, _ *PolicyResult) (tri, error) {
	have := tlsRank(st.conn.TLS)
	if have == 0 && !st.atRcpt {
		// Cleartext so far: the client may still issue STARTTLS. By RCPT the
		// state is final: STARTTLS resets the session (RFC 3207 4.2), so a
		// transaction never spans it.
		return unknown, nil
	}
	if c.minimum {
		return triOf(have >= c.want), nil
	}
	return triOf(have == c.want), nil
}

type rcptStringCond struct{ m strMatcher }

func (c rcptStringCond) eval(_ context.Context, _ *Policy, st *stage, _ *PolicyResult) (tri, error) {
	if !st.atRcpt {
		return unknown, nil
	}
	// The envelope recipient exactly as received, subaddress included
	// (eb-filters.html, "Recipient address matching and subaddressing").
	return triOf(c.m.match(st.rcpt)), nil
}

type rcptListCond struct {
	lists  []string
	negate bool
}

func (c rcptListCond) eval(ctx context.Context, p *Policy, st *stage, res *PolicyResult) (tri, error) {
	if !st.atRcpt {
		return unknown, nil
	}
	if p.opts.lists == nil {
		res.Warnings = append(res.Warnings, "address-list condition: no address lists configured; the condition does not hold")
		return no, nil
	}
	in, err := inAnyList(ctx, p.opts.lists, c.lists, st.rcpt)
	if err != nil {
		return no, err
	}
	return triOf(in != c.negate), nil
}

func inAnyList(ctx context.Context, al AddressLists, lists []string, addr string) (bool, error) {
	for _, l := range lists {
		ok, err := al.Contains(ctx, l, addr)
		if err != nil {
			return false, fmt.Errorf("address list %s: %w", l, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// analyze runs an add-on for a traffic policy. Add-on conditions are judged
// once the message is received (st.atData): the add-on may read the
// message and the recipient, so nothing is assumed before.
func (p *Policy) analyze(ctx context.Context, a analysisRef, st *stage, res *PolicyResult) (string, bool) {
	if p.opts.analyzer == nil {
		res.Unavailable = true
		res.Warnings = appendOnce(res.Warnings, fmt.Sprintf("add-on condition on %s/%s: no add-on analyzer configured; the condition does not hold", a.analyzer, a.field))
		return "", false
	}
	v, err := p.opts.analyzer.Analyze(ctx, AnalysisInput{Analyzer: a.analyzer, ResultField: a.field, Conn: st.conn, Recipient: st.rcpt, Message: st.msg})
	if err != nil {
		res.Unavailable = true
		res.Warnings = appendOnce(res.Warnings, fmt.Sprintf("add-on condition on %s/%s: %v; the condition does not hold", a.analyzer, a.field, err))
		return "", false
	}
	return v, true
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

type analysisStringCond struct {
	a analysisRef
	m strMatcher
}

func (c analysisStringCond) eval(ctx context.Context, p *Policy, st *stage, res *PolicyResult) (tri, error) {
	if !st.atData {
		return unknown, nil
	}
	v, ok := p.analyze(ctx, c.a, st, res)
	if !ok {
		return no, nil
	}
	return triOf(c.m.match(v)), nil
}

type analysisBoolCond struct {
	a      analysisRef
	negate bool
}

func (c analysisBoolCond) eval(ctx context.Context, p *Policy, st *stage, res *PolicyResult) (tri, error) {
	if !st.atData {
		return unknown, nil
	}
	v, ok := p.analyze(ctx, c.a, st, res)
	if !ok {
		return no, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("add-on condition on %s/%s: %q is not a boolean; the condition does not hold", c.a.analyzer, c.a.field, v))
		return no, nil
	}
	return triOf(b != c.negate), nil
}
