package mailmanager

import (
	"context"
	"net/netip"
	"sort"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/rspamd"
)

// refs collects the resources a traffic policy or rule set names, resolving
// each reference once.
type refs struct {
	s        *Service
	tx       Tx
	acct     string
	resolved map[string]string // reference as written -> ID
	ids      map[string]bool
}

func (s *Service) newRefs(tx Tx, acct string) *refs {
	return &refs{s: s, tx: tx, acct: acct, resolved: map[string]string{}, ids: map[string]bool{}}
}

// list returns the referenced IDs, sorted, for Resource.Refs.
func (r *refs) list() []string {
	out := make([]string, 0, len(r.ids))
	for id := range r.ids {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func (r *refs) table() map[string]string {
	if len(r.resolved) == 0 {
		return nil
	}
	return r.resolved
}

// resolve finds the resource of kind k that ref names: its ID, its ARN, or
// (when byName) its name. A reference to nothing is a validation error: the
// Create operations of the model have no ResourceNotFoundException.
func (r *refs) resolve(ctx context.Context, k Kind, ref string, byName bool) (*Resource, error) {
	if ref == "" {
		return nil, fault.Invalidf("Empty %s reference", k.label())
	}
	id := ref
	if isARN(ref) {
		ak, aid, ok := r.s.parseARN(r.acct, ref)
		if !ok || ak != k {
			return nil, fault.Invalidf("%s is not an ARN of this account's %ss in %s", ref, k.label(), r.s.cfg.Region)
		}
		id = aid
	}
	res, err := r.tx.Get(ctx, r.acct, k, id)
	if fault.Is(err, fault.NotFound) && byName && !isARN(ref) {
		res, err = r.tx.GetByName(ctx, r.acct, k, ref)
	}
	if fault.Is(err, fault.NotFound) {
		return nil, fault.Invalidf("%s %s does not exist", capitalize(k.label()), ref)
	}
	if err != nil {
		return nil, err
	}
	r.resolved[ref] = res.ID
	r.ids[res.ID] = true
	return res, nil
}

func (r *refs) archive(ctx context.Context, ref string) error {
	res, err := r.resolve(ctx, KindArchive, ref, true)
	if err != nil {
		return err
	}
	rec, err := DecodeArchive(res)
	if err != nil {
		return err
	}
	if rec.State != mm.ArchiveStateActive {
		return fault.Invalidf("Archive %s is %s", ref, rec.State)
	}
	return nil
}

func (r *refs) relay(ctx context.Context, ref string) error {
	_, err := r.resolve(ctx, KindRelay, ref, false)
	return err
}

func (r *refs) addressLists(ctx context.Context, lists []string) error {
	for _, l := range lists {
		if _, err := r.resolve(ctx, KindAddressList, l, false); err != nil {
			return err
		}
	}
	return nil
}

// analyzer checks an Analysis: its Analyzer is an add-on instance of the
// account, by ARN (as AWS wants) or by ID, of an add-on Tidings runs
// (RSPAMD), and its ResultField is one that add-on has, fit for the kind
// of condition. A condition Tidings could not judge is refused here rather
// than never holding in silence.
func (r *refs) analyzer(ctx context.Context, a, field string, k rspamd.Kind) error {
	res, err := r.resolve(ctx, KindAddonInstance, a, false)
	if err != nil {
		return err
	}
	rec, err := decodeBody[AddonInstanceRecord](res)
	if err != nil {
		return err
	}
	if rec.AddonName != rspamd.AddonName {
		return fault.Invalidf("Add-on instance %s is an instance of %s, which Tidings cannot run; conditions can use instances of %s (rspamd)", a, rec.AddonName, rspamd.AddonName)
	}
	if err := rspamd.CheckField(field, k); err != nil {
		return fault.Invalidf("%v", err)
	}
	return nil
}

// trafficPolicy walks the statements of a traffic policy.
func (r *refs) trafficPolicy(ctx context.Context, stmts []mm.PolicyStatement) error {
	for i, st := range stmts {
		for j, c := range st.Conditions {
			if err := r.policyCondition(ctx, c); err != nil {
				return prefixed(err, "PolicyStatements[%d].Conditions[%d]: ", i, j)
			}
		}
	}
	return nil
}

func (r *refs) policyCondition(ctx context.Context, c mm.PolicyCondition) error {
	if b := c.BooleanExpression; b != nil && b.Evaluate != nil {
		if a := b.Evaluate.Analysis; a != nil {
			if err := r.analyzer(ctx, str(a.Analyzer), str(a.ResultField), rspamd.KindBoolean); err != nil {
				return err
			}
		}
		if l := b.Evaluate.IsInAddressList; l != nil {
			if err := r.addressLists(ctx, l.AddressLists); err != nil {
				return err
			}
		}
	}
	if s := c.StringExpression; s != nil && s.Evaluate != nil && s.Evaluate.Analysis != nil {
		a := s.Evaluate.Analysis
		if err := r.analyzer(ctx, str(a.Analyzer), str(a.ResultField), rspamd.KindString); err != nil {
			return err
		}
	}
	return nil
}

// rules walks the rules of a rule set.
func (r *refs) rules(ctx context.Context, rules []mm.Rule) error {
	for i, rule := range rules {
		for j, c := range rule.Conditions {
			if err := r.ruleCondition(ctx, c); err != nil {
				return prefixed(err, "Rules[%d].Conditions[%d]: ", i, j)
			}
		}
		for j, c := range rule.Unless {
			if err := r.ruleCondition(ctx, c); err != nil {
				return prefixed(err, "Rules[%d].Unless[%d]: ", i, j)
			}
		}
		for j, a := range rule.Actions {
			if err := r.ruleAction(ctx, a); err != nil {
				return prefixed(err, "Rules[%d].Actions[%d]: ", i, j)
			}
		}
	}
	return nil
}

func (r *refs) ruleCondition(ctx context.Context, c mm.RuleCondition) error {
	if b := c.BooleanExpression; b != nil && b.Evaluate != nil {
		if a := b.Evaluate.Analysis; a != nil {
			if err := r.analyzer(ctx, str(a.Analyzer), str(a.ResultField), rspamd.KindBoolean); err != nil {
				return err
			}
		}
		if l := b.Evaluate.IsInAddressList; l != nil {
			if err := r.addressLists(ctx, l.AddressLists); err != nil {
				return err
			}
		}
	}
	if s := c.StringExpression; s != nil && s.Evaluate != nil && s.Evaluate.Analysis != nil {
		a := s.Evaluate.Analysis
		if err := r.analyzer(ctx, str(a.Analyzer), str(a.ResultField), rspamd.KindString); err != nil {
			return err
		}
	}
	if v := c.VerdictExpression; v != nil && v.Evaluate != nil && v.Evaluate.Analysis != nil {
		a := v.Evaluate.Analysis
		if err := r.analyzer(ctx, str(a.Analyzer), str(a.ResultField), rspamd.KindVerdict); err != nil {
			return err
		}
	}
	if ip := c.IpExpression; ip != nil {
		// The model's pattern for these values admits any run of digits,
		// dots, colons and slashes; the rule engine needs an address or a
		// CIDR block.
		for _, v := range ip.Values {
			if !validIPOrCIDR(v) {
				return fault.Invalidf("%q is not an IP address or CIDR block", v)
			}
		}
	}
	return nil
}

func (r *refs) ruleAction(ctx context.Context, a mm.RuleAction) error {
	if ar := a.Archive; ar != nil {
		if err := r.archive(ctx, str(ar.TargetArchive)); err != nil {
			return err
		}
	}
	if rl := a.Relay; rl != nil {
		if err := r.relay(ctx, str(rl.Relay)); err != nil {
			return err
		}
	}
	if l := a.InvokeLambda; l != nil {
		// The wire layer checks the model's range already; the domain
		// checks it again for callers that do not come through it.
		if m := l.RetryTimeMinutes; m != nil && (*m < 0 || *m > MaxLambdaRetryMinutes) {
			return fault.Invalidf("InvokeLambda RetryTimeMinutes %d is out of range: 0 to %d minutes", *m, MaxLambdaRetryMinutes)
		}
		if r.s.cfg.CheckFunction != nil {
			if err := r.s.cfg.CheckFunction(ctx, r.acct, str(l.FunctionArn)); err != nil {
				return err
			}
		}
	}
	return nil
}

// MaxLambdaRetryMinutes is the largest RetryTimeMinutes of an
// InvokeLambda action: the range of LambdaRetryTimeMinutes in the Mail
// Manager model (0 to 2160, 36 hours).
const MaxLambdaRetryMinutes = 2160

func validIPOrCIDR(v string) bool {
	if strings.Contains(v, "/") {
		_, err := netip.ParsePrefix(v)
		return err == nil
	}
	_, err := netip.ParseAddr(v)
	return err == nil
}

// prefixed adds a location to the message of a validation error.
func prefixed(err error, format string, args ...any) error {
	if fe, ok := err.(*fault.Error); ok && fe.Kind == fault.Invalid {
		return fault.Invalidf(format+"%s", append(args, fe.Message)...)
	}
	return err
}
