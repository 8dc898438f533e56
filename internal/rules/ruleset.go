package rules

import (
	"context"
	"fmt"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// RuleSet is a compiled rule set.
//
// Semantics (Mail Manager API reference, Rule,
// https://docs.aws.amazon.com/sesmailmanager/latest/APIReference/API_Rule.html):
// "For each envelope recipient of an email, if all conditions match and none
// of the 'unless conditions' match, then all of the actions are executed
// sequentially. If no conditions are provided, the rule always applies";
// rules run in the order of the rule set (SES Developer Guide, "Rule sets and
// rules", https://docs.aws.amazon.com/ses/latest/dg/eb-rules.html). Every rule
// that applies runs; there is no "stop" other than running out of
// recipients.
//
// Two actions change the recipients that later actions and rules see, and
// Evaluate applies them because they cannot fail (eb-rules.html, rule
// actions): ReplaceRecipient replaces the recipients the rule applied to
// ("if the condition of this action applies only to a subset of recipients,
// only those recipients are replaced"), Drop removes them ("continued
// processing of rules will apply to remaining recipients. If this action
// applies to all recipient(s), rules processing stops").
type RuleSet struct {
	rules    []rule
	opts     options
	warnings []string
}

type rule struct {
	index   int
	name    string
	conds   []ruleCond
	unless  []ruleCond
	actions []mm.RuleAction
}

// Match is one rule that applied.
type Match struct {
	Rule int // index of the rule in the rule set
	Name string
	// Recipients are the envelope recipients the rule applied to.
	Recipients []string
	// Steps are the rule's actions in order, each with the recipients it
	// acts for: the rule's recipients, as replaced by a ReplaceRecipient or
	// emptied by a Drop earlier in the same rule. Message-level actions
	// (Archive, WriteToS3, PublishToSns, ...) act once whatever the list.
	Steps []Step
}

// Step is one action of a matched rule.
type Step struct {
	Action     mm.RuleAction
	Recipients []string
}

// Outcome is the full result of evaluating a rule set.
type Outcome struct {
	Matches []Match
	// Recipients are the envelope recipients left after every Drop and
	// ReplaceRecipient.
	Recipients []string
	// Warnings name conditions that could not be judged and were taken as
	// not holding.
	Warnings []string
}

// CompileRuleSet compiles a rule set from its model form. It checks what
// evaluation relies on (unions, operators, CIDRs, header names) and what
// actions would write into messages (ValidateHeaderName, ValidateHeaderValue,
// ValidateRecipient). Errors are fault.Invalid and name the rule.
func CompileRuleSet(rules []mm.Rule, opts ...Option) (*RuleSet, error) {
	rs := &RuleSet{opts: buildOptions(opts)}
	for i, r := range rules {
		cr := rule{index: i, name: deref(r.Name), actions: r.Actions}
		where := fmt.Sprintf("rule %d", i)
		if cr.name != "" {
			where = fmt.Sprintf("rule %d (%s)", i, cr.name)
		}
		for j, c := range r.Conditions {
			rc, err := rs.compileCond(c)
			if err != nil {
				return nil, fault.Invalidf("%s, condition %d: %v", where, j, err)
			}
			cr.conds = append(cr.conds, rc)
		}
		for j, c := range r.Unless {
			rc, err := rs.compileCond(c)
			if err != nil {
				return nil, fault.Invalidf("%s, unless condition %d: %v", where, j, err)
			}
			cr.unless = append(cr.unless, rc)
		}
		if len(r.Actions) == 0 {
			return nil, fault.Invalidf("%s: no actions", where)
		}
		for j, a := range r.Actions {
			if err := rs.checkAction(a); err != nil {
				return nil, fault.Invalidf("%s, action %d: %v", where, j, err)
			}
		}
		rs.rules = append(rs.rules, cr)
	}
	return rs, nil
}

// Warnings lists problems found at compile time that make conditions
// unjudgeable (an add-on condition with no Analyzer configured).
func (rs *RuleSet) Warnings() []string { return rs.warnings }

// Evaluate returns the rules that apply to the message, in rule-set order.
// An error means a lookup failed (an address list); the evaluation should be
// retried rather than half-applied.
func (rs *RuleSet) Evaluate(ctx context.Context, f *Facts) ([]Match, error) {
	o, err := rs.Outcome(ctx, f)
	if err != nil {
		return nil, err
	}
	return o.Matches, nil
}

// Outcome is Evaluate with the recipients left at the end and the warnings.
func (rs *RuleSet) Outcome(ctx context.Context, f *Facts) (*Outcome, error) {
	ev := newEvaluation(rs, f)
	out := &Outcome{}
	current := slices.Clone(f.Envelope.Recipients)
	for _, r := range rs.rules {
		if len(current) == 0 {
			break
		}
		cache := make([]tri, len(r.conds)+len(r.unless))
		for i := range cache {
			cache[i] = unknown
		}
		var matched []string
		for _, rcpt := range current {
			ok, err := r.applies(ctx, ev, rcpt, cache)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", r.index, err)
			}
			if ok {
				matched = append(matched, rcpt)
			}
		}
		if len(matched) == 0 {
			continue
		}
		m := Match{Rule: r.index, Name: r.name, Recipients: matched}
		working := slices.Clone(matched)
		for _, a := range r.actions {
			m.Steps = append(m.Steps, Step{Action: a, Recipients: slices.Clone(working)})
			switch {
			case a.Drop != nil:
				current = without(current, working)
				working = nil
			case a.ReplaceRecipient != nil && len(a.ReplaceRecipient.ReplaceWith) > 0:
				current = without(current, working)
				working = nil
				for _, n := range a.ReplaceRecipient.ReplaceWith {
					if !containsFold(working, n) {
						working = append(working, n)
					}
					if !containsFold(current, n) {
						current = append(current, n)
					}
				}
			}
		}
		out.Matches = append(out.Matches, m)
	}
	out.Recipients = current
	out.Warnings = ev.warnings
	for _, w := range ev.warnings {
		rs.opts.log.WarnContext(ctx, "rule set: "+w, "queue_id", f.Envelope.QueueID)
	}
	return out, nil
}

func without(list, remove []string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return containsFold(remove, s) })
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// applies: all conditions hold and no unless condition does, for rcpt.
// Message-wide conditions are judged once per rule (cache), recipient ones
// for each recipient.
func (r rule) applies(ctx context.Context, ev *evaluation, rcpt string, cache []tri) (bool, error) {
	get := func(i int, c ruleCond) (bool, error) {
		if !c.scoped() && cache[i] != unknown {
			return cache[i] == yes, nil
		}
		v, err := c.eval(ctx, ev, rcpt)
		if err != nil {
			return false, err
		}
		if !c.scoped() {
			cache[i] = triOf(v)
		}
		return v, nil
	}
	for i, c := range r.conds {
		if v, err := get(i, c); err != nil || !v {
			return false, err
		}
	}
	for j, c := range r.unless {
		if v, err := get(len(r.conds)+j, c); err != nil || v {
			return false, err
		}
	}
	return true, nil
}

// evaluation holds what one Evaluate derives from the facts, and the lookups
// it has made, so each is done once per message.
type evaluation struct {
	rs                   *RuleSet
	f                    *Facts
	from, sender, to, cc []string
	subject              []string
	lists                map[[2]string]bool
	analyses             map[analysisRef]analysisResult
	warnings             []string
}

type analysisResult struct {
	v   string
	ok  bool  // a value was obtained
	err error // the add-on failed
}

func newEvaluation(rs *RuleSet, f *Facts) *evaluation {
	h := f.Header
	ev := &evaluation{
		rs: rs, f: f,
		from:     Addresses(h, "From"),
		sender:   Addresses(h, "Sender"),
		to:       Addresses(h, "To"),
		cc:       Addresses(h, "Cc"),
		lists:    map[[2]string]bool{},
		analyses: map[analysisRef]analysisResult{},
	}
	if len(h.Values("Subject")) > 0 {
		ev.subject = []string{Subject(h)}
	}
	return ev
}

func (ev *evaluation) warn(w string) {
	if !slices.Contains(ev.warnings, w) {
		ev.warnings = append(ev.warnings, w)
	}
}

func (ev *evaluation) inLists(ctx context.Context, lists []string, addrs []string) (bool, error) {
	for _, a := range addrs {
		if a == "" {
			continue
		}
		for _, l := range lists {
			k := [2]string{l, strings.ToLower(a)}
			in, seen := ev.lists[k]
			if !seen {
				var err error
				if in, err = ev.rs.opts.lists.Contains(ctx, l, a); err != nil {
					return false, fmt.Errorf("address list %s: %w", l, err)
				}
				ev.lists[k] = in
			}
			if in {
				return true, nil
			}
		}
	}
	return false, nil
}

// analyze runs an add-on once per message. Rule-set add-on conditions are
// message-wide: the add-ons AWS offers there (Vade, Trend Micro) judge the
// message, not a recipient.
func (ev *evaluation) analyze(ctx context.Context, a analysisRef) analysisResult {
	if r, ok := ev.analyses[a]; ok {
		return r
	}
	var r analysisResult
	if ev.rs.opts.analyzer == nil {
		ev.warn(fmt.Sprintf("add-on condition on %s/%s: no add-on analyzer configured; the condition does not hold", a.analyzer, a.field))
	} else {
		v, err := ev.rs.opts.analyzer.Analyze(ctx, AnalysisInput{Analyzer: a.analyzer, ResultField: a.field, Conn: &ev.f.Envelope.Conn, Facts: ev.f, Message: ev.f.Message})
		if err != nil {
			r.err = err
			ev.warn(fmt.Sprintf("add-on condition on %s/%s: %v", a.analyzer, a.field, err))
		} else {
			r.v, r.ok = v, true
		}
	}
	ev.analyses[a] = r
	return r
}

type ruleCond interface {
	eval(ctx context.Context, ev *evaluation, rcpt string) (bool, error)
	// scoped reports whether the condition depends on the recipient.
	scoped() bool
}

func (rs *RuleSet) compileAnalysis(a *mm.Analysis) (analysisRef, error) {
	r := analysisRef{analyzer: deref(a.Analyzer), field: deref(a.ResultField)}
	if r.analyzer == "" || r.field == "" {
		return r, fmt.Errorf("add-on analysis needs Analyzer and ResultField")
	}
	if rs.opts.analyzer == nil {
		rs.warnings = append(rs.warnings, fmt.Sprintf("add-on condition on %s/%s: no add-on analyzer configured; the condition never holds", r.analyzer, r.field))
	}
	return r, nil
}

func (rs *RuleSet) compileCond(c mm.RuleCondition) (ruleCond, error) {
	n := 0
	for _, set := range []bool{c.BooleanExpression != nil, c.DmarcExpression != nil, c.IpExpression != nil, c.NumberExpression != nil, c.StringExpression != nil, c.VerdictExpression != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("exactly one expression must be set, %d are", n)
	}
	switch {
	case c.BooleanExpression != nil:
		return rs.compileBool(c.BooleanExpression)
	case c.StringExpression != nil:
		return rs.compileString(c.StringExpression)
	case c.NumberExpression != nil:
		e := c.NumberExpression
		if e.Evaluate == nil || deref(e.Evaluate.Attribute) != mm.RuleNumberEmailAttributeMessageSize {
			return nil, fmt.Errorf("NumberExpression: attribute must be MESSAGE_SIZE")
		}
		if e.Value == nil {
			return nil, fmt.Errorf("NumberExpression: Value is required")
		}
		switch op := deref(e.Operator); op {
		case mm.RuleNumberOperatorEquals, mm.RuleNumberOperatorNotEquals, mm.RuleNumberOperatorLessThan,
			mm.RuleNumberOperatorGreaterThan, mm.RuleNumberOperatorLessThanOrEqual, mm.RuleNumberOperatorGreaterThanOrEqual:
			return sizeCond{op: op, v: *e.Value}, nil
		default:
			return nil, fmt.Errorf("NumberExpression: unknown operator %q", op)
		}
	case c.IpExpression != nil:
		e := c.IpExpression
		if e.Evaluate == nil || deref(e.Evaluate.Attribute) != mm.RuleIpEmailAttributeSourceIp {
			return nil, fmt.Errorf("IpExpression: attribute must be SOURCE_IP")
		}
		m, err := newIPMatcher(string(deref(e.Operator)), e.Values, anyFamily)
		if err != nil {
			return nil, fmt.Errorf("IpExpression: %w", err)
		}
		return sourceIPCond{m}, nil
	case c.VerdictExpression != nil:
		e := c.VerdictExpression
		vc := verdictCond{values: e.Values}
		switch op := deref(e.Operator); op {
		case mm.RuleVerdictOperatorEquals:
		case mm.RuleVerdictOperatorNotEquals:
			vc.negate = true
		default:
			return nil, fmt.Errorf("VerdictExpression: unknown operator %q", op)
		}
		if len(e.Values) == 0 {
			return nil, fmt.Errorf("VerdictExpression: no values")
		}
		for _, v := range e.Values {
			if !slices.Contains(mm.RuleVerdict("").Values(), v) {
				return nil, fmt.Errorf("VerdictExpression: unknown verdict %q", v)
			}
		}
		switch {
		case e.Evaluate == nil:
			return nil, fmt.Errorf("VerdictExpression: Evaluate is required")
		case e.Evaluate.Attribute != nil && e.Evaluate.Analysis == nil:
			switch a := *e.Evaluate.Attribute; a {
			case mm.RuleVerdictAttributeSpf, mm.RuleVerdictAttributeDkim:
				vc.attr = a
			default:
				return nil, fmt.Errorf("VerdictExpression: unknown attribute %q", a)
			}
		case e.Evaluate.Analysis != nil && e.Evaluate.Attribute == nil:
			a, err := rs.compileAnalysis(e.Evaluate.Analysis)
			if err != nil {
				return nil, fmt.Errorf("VerdictExpression: %w", err)
			}
			vc.analysis = &a
		default:
			return nil, fmt.Errorf("VerdictExpression: exactly one of Attribute and Analysis must be set")
		}
		return vc, nil
	default:
		e := c.DmarcExpression
		dc := dmarcCond{values: e.Values}
		switch op := deref(e.Operator); op {
		case mm.RuleDmarcOperatorEquals:
		case mm.RuleDmarcOperatorNotEquals:
			dc.negate = true
		default:
			return nil, fmt.Errorf("DmarcExpression: unknown operator %q", op)
		}
		if len(e.Values) == 0 {
			return nil, fmt.Errorf("DmarcExpression: no values")
		}
		for _, v := range e.Values {
			if !slices.Contains(mm.RuleDmarcPolicy("").Values(), v) {
				return nil, fmt.Errorf("DmarcExpression: unknown policy %q", v)
			}
		}
		return dc, nil
	}
}

func (rs *RuleSet) compileBool(e *mm.RuleBooleanExpression) (ruleCond, error) {
	var negate bool
	switch op := deref(e.Operator); op {
	case mm.RuleBooleanOperatorIsTrue:
	case mm.RuleBooleanOperatorIsFalse:
		negate = true
	default:
		return nil, fmt.Errorf("BooleanExpression: unknown operator %q", op)
	}
	t := e.Evaluate
	if t == nil {
		return nil, fmt.Errorf("BooleanExpression: Evaluate is required")
	}
	n := 0
	for _, set := range []bool{t.Analysis != nil, t.Attribute != nil, t.IsInAddressList != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("BooleanExpression: exactly one of Analysis, Attribute and IsInAddressList must be set")
	}
	switch {
	case t.Attribute != nil:
		switch a := *t.Attribute; a {
		case mm.RuleBooleanEmailAttributeReadReceiptRequested, mm.RuleBooleanEmailAttributeTls, mm.RuleBooleanEmailAttributeTlsWrapped:
			return boolAttrCond{attr: a, negate: negate}, nil
		default:
			return nil, fmt.Errorf("BooleanExpression: unknown attribute %q", a)
		}
	case t.IsInAddressList != nil:
		l := t.IsInAddressList
		switch a := deref(l.Attribute); a {
		case mm.RuleAddressListEmailAttributeRecipient, mm.RuleAddressListEmailAttributeMailFrom,
			mm.RuleAddressListEmailAttributeSender, mm.RuleAddressListEmailAttributeFrom,
			mm.RuleAddressListEmailAttributeTo, mm.RuleAddressListEmailAttributeCc:
		default:
			return nil, fmt.Errorf("IsInAddressList: unknown attribute %q", a)
		}
		if len(l.AddressLists) == 0 {
			return nil, fmt.Errorf("IsInAddressList: no address lists")
		}
		return listCond{attr: deref(l.Attribute), lists: l.AddressLists, negate: negate}, nil
	default:
		a, err := rs.compileAnalysis(t.Analysis)
		if err != nil {
			return nil, fmt.Errorf("BooleanExpression: %w", err)
		}
		return analysisBool{a: a, negate: negate}, nil
	}
}

func (rs *RuleSet) compileString(e *mm.RuleStringExpression) (ruleCond, error) {
	m, err := newStrMatcher(string(deref(e.Operator)), e.Values)
	if err != nil {
		return nil, fmt.Errorf("StringExpression: %w", err)
	}
	t := e.Evaluate
	if t == nil {
		return nil, fmt.Errorf("StringExpression: Evaluate is required")
	}
	n := 0
	for _, set := range []bool{t.Analysis != nil, t.Attribute != nil, t.ClientCertificateAttribute != nil, t.MimeHeaderAttribute != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("StringExpression: exactly one of Analysis, Attribute, ClientCertificateAttribute and MimeHeaderAttribute must be set")
	}
	switch {
	case t.Attribute != nil:
		a := *t.Attribute
		if !slices.Contains(mm.RuleStringEmailAttribute("").Values(), a) {
			return nil, fmt.Errorf("StringExpression: unknown attribute %q", a)
		}
		return stringCond{m: m, attr: a}, nil
	case t.MimeHeaderAttribute != nil:
		h := *t.MimeHeaderAttribute
		if !mimeHeaderAttribute(h) {
			return nil, fmt.Errorf("StringExpression: MimeHeaderAttribute %q must be an X- header name", h)
		}
		return stringCond{m: m, header: textproto.CanonicalMIMEHeaderKey(h)}, nil
	case t.ClientCertificateAttribute != nil:
		a := *t.ClientCertificateAttribute
		if !slices.Contains(mm.RuleClientCertificateAttribute("").Values(), a) {
			return nil, fmt.Errorf("StringExpression: unknown client certificate attribute %q", a)
		}
		return stringCond{m: m, cert: a}, nil
	default:
		a, err := rs.compileAnalysis(t.Analysis)
		if err != nil {
			return nil, fmt.Errorf("StringExpression: %w", err)
		}
		return analysisString{a: a, m: m}, nil
	}
}

// mimeHeaderAttribute checks the model's pattern X-[a-zA-Z0-9-]{1,256}.
func mimeHeaderAttribute(h string) bool {
	if len(h) < 3 || len(h) > 258 || h[:2] != "X-" {
		return false
	}
	for i := 2; i < len(h); i++ {
		if c := h[i]; !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func (rs *RuleSet) checkAction(a mm.RuleAction) error {
	n := 0
	for _, set := range []bool{a.AddHeader != nil, a.Archive != nil, a.Bounce != nil, a.DeliverToMailbox != nil,
		a.DeliverToQBusiness != nil, a.Drop != nil, a.InvokeLambda != nil, a.PublishToSns != nil, a.Relay != nil,
		a.ReplaceRecipient != nil, a.Send != nil, a.WriteToS3 != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("exactly one action must be set, %d are", n)
	}
	switch {
	case a.AddHeader != nil:
		if err := ValidateHeaderName(deref(a.AddHeader.HeaderName)); err != nil {
			return err
		}
		return ValidateHeaderValue(deref(a.AddHeader.HeaderValue))
	case a.ReplaceRecipient != nil:
		if len(a.ReplaceRecipient.ReplaceWith) == 0 {
			rs.warnings = append(rs.warnings, "ReplaceRecipient without ReplaceWith does nothing")
		}
		for _, r := range a.ReplaceRecipient.ReplaceWith {
			if err := ValidateRecipient(r); err != nil {
				return err
			}
		}
	}
	return nil
}

type boolAttrCond struct {
	attr   mm.RuleBooleanEmailAttribute
	negate bool
}

func (c boolAttrCond) scoped() bool { return false }

func (c boolAttrCond) eval(_ context.Context, ev *evaluation, _ string) (bool, error) {
	var v bool
	switch c.attr {
	case mm.RuleBooleanEmailAttributeReadReceiptRequested:
		// A read receipt is asked for with Disposition-Notification-To
		// (RFC 8098 2.1).
		v = len(ev.f.Header.Values("Disposition-Notification-To")) > 0
	case mm.RuleBooleanEmailAttributeTls:
		v = ev.f.Envelope.Conn.TLS != ""
	case mm.RuleBooleanEmailAttributeTlsWrapped:
		v = ev.f.Envelope.Conn.TLSWrapped
	}
	return v != c.negate, nil
}

type listCond struct {
	attr   mm.RuleAddressListEmailAttribute
	lists  []string
	negate bool
}

func (c listCond) scoped() bool { return c.attr == mm.RuleAddressListEmailAttributeRecipient }

func (c listCond) eval(ctx context.Context, ev *evaluation, rcpt string) (bool, error) {
	var addrs []string
	switch c.attr {
	case mm.RuleAddressListEmailAttributeRecipient:
		addrs = []string{rcpt}
	case mm.RuleAddressListEmailAttributeMailFrom:
		addrs = []string{ev.f.Envelope.MailFrom}
	case mm.RuleAddressListEmailAttributeSender:
		addrs = ev.sender
	case mm.RuleAddressListEmailAttributeFrom:
		addrs = ev.from
	case mm.RuleAddressListEmailAttributeTo:
		addrs = ev.to
	case mm.RuleAddressListEmailAttributeCc:
		addrs = ev.cc
	}
	if ev.rs.opts.lists == nil {
		// Unjudgeable: does not hold, whichever the operator.
		ev.warn("address-list condition: no address lists configured; the condition does not hold")
		return false, nil
	}
	in, err := ev.inLists(ctx, c.lists, addrs)
	if err != nil {
		return false, err
	}
	return in != c.negate, nil
}

type analysisBool struct {
	a      analysisRef
	negate bool
}

func (c analysisBool) scoped() bool { return false }

func (c analysisBool) eval(ctx context.Context, ev *evaluation, _ string) (bool, error) {
	r := ev.analyze(ctx, c.a)
	if !r.ok {
		return false, nil
	}
	b, err := strconv.ParseBool(r.v)
	if err != nil {
		ev.warn(fmt.Sprintf("add-on condition on %s/%s: %q is not a boolean; the condition does not hold", c.a.analyzer, c.a.field, r.v))
		return false, nil
	}
	return b != c.negate, nil
}

// stringCond is a string condition on an email attribute, an X- header or a
// client certificate field: exactly one of attr, header, cert is set.
type stringCond struct {
	m      strMatcher
	attr   mm.RuleStringEmailAttribute
	header string
	cert   mm.RuleClientCertificateAttribute
}

func (c stringCond) scoped() bool { return c.attr == mm.RuleStringEmailAttributeRecipient }

func (c stringCond) eval(_ context.Context, ev *evaluation, rcpt string) (bool, error) {
	var subjects []string
	switch {
	case c.header != "":
		subjects = HeaderValues(ev.f.Header, c.header)
	case c.cert != "":
		subjects = certValues(ev.f.Envelope.Conn.ClientCert, c.cert)
	default:
		switch c.attr {
		case mm.RuleStringEmailAttributeMailFrom:
			subjects = []string{ev.f.Envelope.MailFrom} // "" for the null sender
		case mm.RuleStringEmailAttributeHelo:
			subjects = []string{ev.f.Envelope.Conn.Helo}
		case mm.RuleStringEmailAttributeRecipient:
			// As received, subaddress included (eb-rules.html).
			subjects = []string{rcpt}
		case mm.RuleStringEmailAttributeSender:
			subjects = ev.sender
		case mm.RuleStringEmailAttributeFrom:
			subjects = ev.from
		case mm.RuleStringEmailAttributeTo:
			subjects = ev.to
		case mm.RuleStringEmailAttributeCc:
			subjects = ev.cc
		case mm.RuleStringEmailAttributeSubject:
			subjects = ev.subject
		}
	}
	return c.m.match(subjects...), nil
}

type analysisString struct {
	a analysisRef
	m strMatcher
}

func (c analysisString) scoped() bool { return false }

func (c analysisString) eval(ctx context.Context, ev *evaluation, _ string) (bool, error) {
	r := ev.analyze(ctx, c.a)
	if !r.ok {
		return false, nil
	}
	return c.m.match(r.v), nil
}

type sizeCond struct {
	op mm.RuleNumberOperator
	v  float64
}

func (c sizeCond) scoped() bool { return false }

func (c sizeCond) eval(_ context.Context, ev *evaluation, _ string) (bool, error) {
	size := float64(ev.f.Envelope.Size)
	switch c.op {
	case mm.RuleNumberOperatorEquals:
		return size == c.v, nil
	case mm.RuleNumberOperatorNotEquals:
		return size != c.v, nil
	case mm.RuleNumberOperatorLessThan:
		return size < c.v, nil
	case mm.RuleNumberOperatorGreaterThan:
		return size > c.v, nil
	case mm.RuleNumberOperatorLessThanOrEqual:
		return size <= c.v, nil
	default:
		return size >= c.v, nil
	}
}

type sourceIPCond struct{ m ipMatcher }

func (c sourceIPCond) scoped() bool { return false }

func (c sourceIPCond) eval(_ context.Context, ev *evaluation, _ string) (bool, error) {
	return c.m.match(ev.f.Envelope.Conn.RemoteIP), nil
}

// verdictCond: EQUALS holds if the verdict is any of the values, NOT_EQUALS
// if it is none of them (RuleVerdictExpression, API reference). A verdict
// that was not computed ("") equals no value.
type verdictCond struct {
	attr     mm.RuleVerdictAttribute
	analysis *analysisRef
	values   []mm.RuleVerdict
	negate   bool
}

func (c verdictCond) scoped() bool { return false }

func (c verdictCond) eval(ctx context.Context, ev *evaluation, _ string) (bool, error) {
	var v string
	switch {
	case c.analysis != nil:
		r := ev.analyze(ctx, *c.analysis)
		switch {
		case r.err != nil:
			// The model has a verdict for exactly this.
			v = string(mm.RuleVerdictProcessingFailed)
		case !r.ok:
			return false, nil // no analyzer configured: does not hold
		default:
			v = strings.ToUpper(strings.TrimSpace(r.v))
		}
	case c.attr == mm.RuleVerdictAttributeSpf:
		v = string(ev.f.Auth.SPF)
	default:
		v = string(ev.f.Auth.DKIM)
	}
	in := slices.Contains(c.values, mm.RuleVerdict(v))
	return in != c.negate, nil
}

// dmarcCond compares the DMARC policy the From domain publishes: EQUALS ORs
// the values, NOT_EQUALS holds if the policy is none of them
// (RuleDmarcExpression, API reference). A domain that publishes no DMARC
// record has no policy, which equals no value.
type dmarcCond struct {
	values []mm.RuleDmarcPolicy
	negate bool
}

func (c dmarcCond) scoped() bool { return false }

func (c dmarcCond) eval(_ context.Context, ev *evaluation, _ string) (bool, error) {
	p := mm.RuleDmarcPolicy(strings.ToUpper(ev.f.Auth.DMARCPolicy))
	in := p != "" && slices.Contains(c.values, p)
	return in != c.negate, nil
}
