// Package rules evaluates the two kinds of Mail Manager filters: traffic
// policies, judged while the SMTP session is still open (connection, then
// each RCPT), and rule sets, judged per recipient once the message is
// spooled. It also validates what rule actions would write into a message
// (AddHeader, ReplaceRecipient), so no CR/LF reaches the wire.
//
// Both are compiled once from the generated model types (CIDRs parsed, values
// case-folded, unions checked) and are then safe for concurrent use.
//
// Semantics follow the AWS documentation; each place says which page.
package rules

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/tidings/tidings/internal/message"
)

// AddressLists answers membership questions for IsInAddressList conditions.
// list is the value the condition names (an address list ARN or id, as the
// model allows either). Implementations match without regard to case and
// may support wildcard entries ("user*@example.com", as AWS documents for
// subaddressing).
type AddressLists interface {
	Contains(ctx context.Context, list, address string) (bool, error)
}

// Analyzer runs an Email Add-On (an add-on instance named by a condition's
// Analyzer) and returns the value of one result field.
//
// The value is a string whatever the condition kind: boolean conditions
// read it with strconv.ParseBool ("true"/"false"), verdict conditions as a
// verdict name (PASS, FAIL, GRAY, PROCESSING_FAILED), string conditions as
// is.
type Analyzer interface {
	Analyze(ctx context.Context, in AnalysisInput) (string, error)
}

// AnalysisInput is what an add-on may look at.
type AnalysisInput struct {
	Analyzer    string // the condition's Analyzer (add-on instance ARN or id)
	ResultField string
	Conn        *message.Conn
	// Recipient is the recipient being judged by a traffic policy; "" for
	// rule sets, whose add-on conditions are message-wide.
	Recipient string
	// Facts is the spooled message; nil at SMTP time (traffic policies).
	Facts *Facts
	// Message is the received message: after DATA for traffic policies
	// (EvaluateMessage), the spooled copy for rule sets. Nil or without
	// Open when the caller has no message.
	Message *Message
}

// Message is one received message as add-ons read it. One Message is made
// per message and shared by every condition and every recipient judged on
// it, so that an add-on analyses it once (Memo).
type Message struct {
	// Envelope is the SMTP envelope: the sender and every recipient of the
	// transaction (not only the one being judged).
	Envelope *message.Envelope
	// Open opens the message as received; size is its length in octets,
	// or -1 when unknown.
	Open func(ctx context.Context) (rc io.ReadCloser, size int64, err error)

	mu   sync.Mutex
	memo map[string]memoEntry
}

type memoEntry struct {
	v   any
	err error
}

// Memo returns what f returned the first time it was called with key for
// this message, failures included: a failed analysis is not repeated for
// the next condition or recipient of the same message. Calls for one
// message are serialized.
func (m *Message) Memo(key string, f func() (any, error)) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.memo[key]; ok {
		return e.v, e.err
	}
	v, err := f()
	if m.memo == nil {
		m.memo = map[string]memoEntry{}
	}
	m.memo[key] = memoEntry{v, err}
	return v, err
}

// Option configures CompilePolicy and CompileRuleSet.
type Option func(*options)

type options struct {
	lists    AddressLists
	analyzer Analyzer
	log      *slog.Logger
}

// WithAddressLists sets how IsInAddressList conditions are answered. Without
// it such conditions do not hold and a warning is recorded.
func WithAddressLists(l AddressLists) Option { return func(o *options) { o.lists = l } }

// WithAnalyzer sets how add-on (Analysis) conditions are answered. Without it
// such conditions do not hold and a warning is recorded.
func WithAnalyzer(a Analyzer) Option { return func(o *options) { o.analyzer = a } }

// WithLogger sets where evaluation warnings are logged (by default nowhere).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func buildOptions(opts []Option) options {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	return o
}

// strOp is a string operator, common to traffic policies and rules.
type strOp int

const (
	opEquals strOp = iota
	opNotEquals
	opStartsWith
	opEndsWith
	opContains
)

func parseStrOp(s string) (strOp, error) {
	switch s {
	case "EQUALS":
		return opEquals, nil
	case "NOT_EQUALS":
		return opNotEquals, nil
	case "STARTS_WITH":
		return opStartsWith, nil
	case "ENDS_WITH":
		return opEndsWith, nil
	case "CONTAINS":
		return opContains, nil
	}
	return 0, fmt.Errorf("unknown string operator %q", s)
}

// strMatcher compares the strings of an attribute with a condition's values.
//
// Comparison ignores case. For addresses that is what mail does: domains are
// case-insensitive (RFC 5321 2.4) and, although local parts may in theory be
// case-sensitive, RFC 5321 2.4 discourages relying on it and every major
// mailbox provider folds them. For a filter it is also the safe choice: a
// case-sensitive DENY on "ceo@example.com" would be bypassed by
// "CEO@Example.com". AWS does not document case for the other attributes
// (subject, X- headers, certificate names); they are folded too so no filter
// can be dodged by changing letter case.
//
// Multiple values (RuleStringExpression, API reference): for every operator
// but NOT_EQUALS the values are ORed; NOT_EQUALS holds only if none of the
// values equals the attribute. An attribute may itself have several strings
// (two To addresses) or none (no Subject header): EQUALS, STARTS_WITH,
// ENDS_WITH and CONTAINS hold if some string matches some value; NOT_EQUALS
// is exactly the negation of EQUALS, so it holds for an absent attribute.
type strMatcher struct {
	op     strOp
	values []string // lower-cased
}

func newStrMatcher(op string, values []string) (strMatcher, error) {
	o, err := parseStrOp(op)
	if err != nil {
		return strMatcher{}, err
	}
	if len(values) == 0 {
		return strMatcher{}, fmt.Errorf("no values")
	}
	m := strMatcher{op: o, values: make([]string, len(values))}
	for i, v := range values {
		m.values[i] = strings.ToLower(v)
	}
	return m, nil
}

func (m strMatcher) match(subjects ...string) bool {
	op := m.op
	if op == opNotEquals {
		op = opEquals
	}
	hit := false
outer:
	for _, s := range subjects {
		s = strings.ToLower(s)
		for _, v := range m.values {
			var ok bool
			switch op {
			case opEquals:
				ok = s == v
			case opStartsWith:
				ok = strings.HasPrefix(s, v)
			case opEndsWith:
				ok = strings.HasSuffix(s, v)
			case opContains:
				ok = strings.Contains(s, v)
			}
			if ok {
				hit = true
				break outer
			}
		}
	}
	if m.op == opNotEquals {
		return !hit
	}
	return hit
}

// tri is the value of a condition that may not be known yet at an SMTP
// stage (a recipient condition at connect time).
type tri int8

const (
	no tri = iota
	yes
	unknown
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}
