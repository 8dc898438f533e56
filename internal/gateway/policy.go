package gateway

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/message"
	"github.com/tidings/tidings/internal/rules"
	"github.com/tidings/tidings/internal/smtpd"
)

// Replies of the traffic policy at SMTP time.
var (
	// A deny is 550 5.7.1 (RFC 3463: delivery not authorized, message
	// refused) at the earliest point it can be judged.
	rejectPolicy = &smtpd.Reject{Code: 550, Enhanced: [3]int{5, 7, 1}, Message: "Rejected by policy"}
	// A lookup that failed (an address list) or a policy that cannot be
	// read: the client should retry, nothing is refused for good.
	rejectPolicyTemp = &smtpd.Reject{Code: 451, Enhanced: [3]int{4, 3, 0}, Message: "Temporary failure evaluating the policy, try again later"}
)

// policySwitch is the smtpd.Policy of one listener. The compiled traffic
// policy behind it is swapped atomically when the configuration changes,
// so sessions in progress are not dropped: each decision uses the policy
// current when it is made.
type policySwitch struct {
	p atomic.Pointer[rules.Policy] // nil: no usable policy, tempfail
}

func (s *policySwitch) set(p *rules.Policy) { s.p.Store(p) }

func (s *policySwitch) Connect(ctx context.Context, c *message.Conn) *smtpd.Reject {
	p := s.p.Load()
	if p == nil {
		return rejectPolicyTemp
	}
	if decided, allow := p.ConnectDecision(ctx, c); decided && !allow {
		return rejectPolicy
	}
	return nil
}

func (s *policySwitch) Recipient(ctx context.Context, c *message.Conn, rcpt string) *smtpd.Reject {
	p := s.p.Load()
	if p == nil {
		return rejectPolicyTemp
	}
	res, err := p.Evaluate(ctx, c, rcpt)
	if err != nil {
		return rejectPolicyTemp
	}
	if !res.Allow {
		return rejectPolicy
	}
	return nil
}

func (s *policySwitch) Data(context.Context, *message.Envelope) *smtpd.Reject { return nil }

// addressLists answers IsInAddressList conditions from the address list
// members the control plane keeps. Lists are named as the policy or rule
// wrote them (an ID or ARN); resolved maps them to IDs.
type addressLists struct {
	st       mailmanager.Store
	resolved map[string]string
}

// Contains matches without regard to case: members are stored in lower
// case (mailmanager normalizes them) and so is the address looked up.
func (a addressLists) Contains(ctx context.Context, list, address string) (bool, error) {
	id := resolveRef(a.resolved, list)
	addr := strings.ToLower(strings.TrimSpace(address))
	if addr == "" {
		return false, nil
	}
	var found bool
	err := a.st.InTx(ctx, func(tx mailmanager.Tx) error {
		_, err := tx.GetMember(ctx, id, addr)
		switch {
		case err == nil:
			found = true
		case fault.Is(err, fault.NotFound):
		default:
			return err
		}
		return nil
	})
	return found, err
}

func (g *Gateway) listsFor(resolved map[string]string) rules.AddressLists {
	if g.cfg.AddressLists == nil {
		return nil
	}
	return addressLists{st: g.cfg.AddressLists, resolved: resolved}
}
