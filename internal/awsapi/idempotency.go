package awsapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// idemKey identifies a remembered request: service/op/token within the
// caller's account, and the hash of its canonical input.
type idemKey struct {
	account, key, hash string
}

// checkIdempotency looks up the client token of in (the member with the
// idempotencyToken trait). A replay of the same input returns the
// remembered output; the same token with another input is a conflict.
// With no token, no store or no principal it does nothing.
//
// Two concurrent first requests with one token may both run: the store
// interface has no reservation, and handlers of create operations must
// tolerate that (the name uniqueness of the store catches most).
func (s *Server) checkIdempotency(ctx context.Context, rq *request, in any) (*idemKey, any, error) {
	st := s.cfg.IdempotencyStore
	member := rq.op.model.IdempotencyToken
	if st == nil || member == "" {
		return nil, nil, nil
	}
	p, ok := iam.PrincipalFrom(ctx)
	if !ok {
		return nil, nil, nil
	}
	token := tokenOf(in, member)
	if token == "" {
		return nil, nil, nil
	}
	canon, err := json.Marshal(in)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(canon)
	k := &idemKey{
		account: p.AccountID,
		key:     rq.svc.model.Name + "/" + rq.op.model.Name + "/" + token,
		hash:    hex.EncodeToString(sum[:]),
	}
	hash, resp, found, err := st.Remembered(ctx, k.account, k.key)
	if err != nil {
		return nil, nil, err
	}
	if !found {
		return k, nil, nil
	}
	if hash != k.hash {
		return nil, nil, fault.Conflictf("The client token %s was already used with a different request.", token)
	}
	out := rq.op.newOutput()
	if err := json.Unmarshal(resp, out); err != nil {
		return nil, nil, err
	}
	return nil, out, nil
}

// rememberIdempotent stores the answer of a successful first request. A
// failure to store is logged, not returned: the operation has happened.
func (s *Server) rememberIdempotent(ctx context.Context, rq *request, k *idemKey, out any) {
	if k == nil {
		return
	}
	b, err := json.Marshal(out)
	if err == nil {
		err = s.cfg.IdempotencyStore.Remember(ctx, k.account, k.key, k.hash, b, s.clock())
	}
	if err != nil {
		s.log.ErrorContext(ctx, "remember idempotent response", "request_id", rq.id, "key", k.key, "error", err)
	}
}

// tokenOf returns the string value of the member named member of *struct in.
func tokenOf(in any, member string) string {
	v := reflect.ValueOf(in)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	for _, f := range fieldsOf(v.Elem().Type()) {
		if f.name != member {
			continue
		}
		fv := v.Elem().FieldByIndex(f.index)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				return ""
			}
			fv = fv.Elem()
		}
		if fv.Kind() == reflect.String {
			return fv.String()
		}
	}
	return ""
}
