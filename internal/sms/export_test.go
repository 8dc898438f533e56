package sms

import "context"

// DispatchOwner is the owner the dispatcher's leases carry.
func (s *Service) DispatchOwner() string { return s.leaseOwner }

// RestartDispatch makes the dispatcher look like a new process of the
// node's: leases taken before are a dead process's.
func (s *Service) RestartDispatch(owner string) { s.leaseOwner = owner }

// ReleaseExpiredLeases is what the sweep does first.
func (s *Service) ReleaseExpiredLeases(ctx context.Context) (int, error) {
	return s.releaseLeases(ctx, nil, s.cfg.Now())
}
