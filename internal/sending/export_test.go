package sending

import (
	"context"
	"encoding/json"
	"io"
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
