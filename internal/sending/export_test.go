package sending

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// OutgoingCopy returns the copy of message id that would go out now,
// signed as outgoing signs it.
func (s *Service) OutgoingCopy(ctx context.Context, id string) ([]byte, error) {
	m, err := s.st.GetMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	var meta messageMeta
	if err := json.Unmarshal(m.Meta, &meta); err != nil {
		return nil, err
	}
	rc, err := s.outgoing(ctx, s.log, m, &meta)()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// DispatchOwner is the owner the dispatcher's leases carry.
func (s *Service) DispatchOwner() string { return s.leaseOwner }

// RestartDispatch makes the dispatcher look like a new process of the
// node's: leases taken before are a dead process's.
func (s *Service) RestartDispatch(owner string) { s.leaseOwner = owner }

// ReleaseLeasesBefore is what the sweep does first, at now.
func (s *Service) ReleaseLeasesBefore(ctx context.Context, now time.Time) (int, error) {
	return s.releaseLeases(ctx, nil, now)
}

// SetHeldMax sets the bytes of spooled copies handed over in memory;
// call it before the first send.
func (s *Service) SetHeldMax(n int64) { s.heldMax = n }

// Held is the bytes of spooled copies the waiting messages hold.
func (s *Service) Held() int64 { return s.held.Load() }
