package mailmanager

import (
	"context"

	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// CreateRelay creates an SMTP relay: a downstream server that Relay rule
// actions deliver to.
func (s *Service) CreateRelay(ctx context.Context, in *mm.CreateRelayRequest) (*mm.CreateRelayResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	if err := s.checkRelayAuth(ctx, acct, in.Authentication); err != nil {
		return nil, err
	}
	id, name, now := newID(KindRelay), str(in.RelayName), s.now()
	rec := RelayRecord{
		ServerName:     str(in.ServerName),
		ServerPort:     int(deref(in.ServerPort)),
		Authentication: deref(in.Authentication),
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := checkName(ctx, tx, acct, KindRelay, name, ""); err != nil {
			return err
		}
		r := &Resource{
			AccountID: acct, Kind: KindRelay, ID: id, Name: name,
			ARN: s.arn(acct, KindRelay, id), Body: encodeBody(rec),
			CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		return setTags(ctx, tx, acct, r.ARN, tags)
	})
	if err != nil {
		return nil, err
	}
	return &mm.CreateRelayResponse{RelayId: ptr(id)}, nil
}

// checkRelayAuth checks the SecretArn of a relay's authentication, when it
// has one: a secret of the account must hold the credentials.
func (s *Service) checkRelayAuth(ctx context.Context, acct string, a *mm.RelayAuthentication) error {
	if a == nil || a.SecretArn == nil || s.cfg.CheckSecret == nil {
		return nil
	}
	return s.cfg.CheckSecret(ctx, acct, *a.SecretArn)
}

// GetRelay returns a relay.
func (s *Service) GetRelay(ctx context.Context, in *mm.GetRelayRequest) (*mm.GetRelayResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var out *mm.GetRelayResponse
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindRelay, str(in.RelayId))
		if err != nil {
			return err
		}
		rec, err := DecodeRelay(r)
		if err != nil {
			return err
		}
		out = &mm.GetRelayResponse{
			RelayId:               ptr(r.ID),
			RelayName:             ptr(r.Name),
			RelayArn:              ptr(r.ARN),
			ServerName:            ptr(rec.ServerName),
			ServerPort:            ptr(int64(rec.ServerPort)),
			Authentication:        ptr(rec.Authentication),
			CreatedTimestamp:      ts(r.CreatedAt),
			LastModifiedTimestamp: ts(r.UpdatedAt),
		}
		return nil
	})
	return out, err
}

// UpdateRelay changes the members given.
func (s *Service) UpdateRelay(ctx context.Context, in *mm.UpdateRelayRequest) (*mm.UpdateRelayResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkRelayAuth(ctx, acct, in.Authentication); err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindRelay, str(in.RelayId))
		if err != nil {
			return err
		}
		rec, err := DecodeRelay(r)
		if err != nil {
			return err
		}
		if in.RelayName != nil {
			if err := checkName(ctx, tx, acct, KindRelay, *in.RelayName, r.ID); err != nil {
				return err
			}
			r.Name = *in.RelayName
		}
		if in.ServerName != nil {
			rec.ServerName = *in.ServerName
		}
		if in.ServerPort != nil {
			rec.ServerPort = int(*in.ServerPort)
		}
		if in.Authentication != nil {
			rec.Authentication = *in.Authentication
		}
		r.Body, r.UpdatedAt = encodeBody(rec), s.now()
		return tx.Update(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &mm.UpdateRelayResponse{}, nil
}

// DeleteRelay deletes a relay no rule set uses.
func (s *Service) DeleteRelay(ctx context.Context, in *mm.DeleteRelayRequest) (*mm.DeleteRelayResponse, error) {
	if err := s.deleteSimple(ctx, KindRelay, str(in.RelayId)); err != nil {
		return nil, err
	}
	return &mm.DeleteRelayResponse{}, nil
}

// ListRelays lists relays by ID.
func (s *Service) ListRelays(ctx context.Context, in *mm.ListRelaysRequest) (*mm.ListRelaysResponse, error) {
	out := &mm.ListRelaysResponse{Relays: []mm.Relay{}}
	next, err := s.list(ctx, KindRelay, in.NextToken, in.PageSize, func(r *Resource) error {
		out.Relays = append(out.Relays, mm.Relay{
			RelayId:               ptr(r.ID),
			RelayName:             ptr(r.Name),
			LastModifiedTimestamp: ts(r.UpdatedAt),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	return out, nil
}
