package mailmanager

import (
	"context"
	"github.com/tidings/tidings/internal/rules"

	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// CreateTrafficPolicy creates a traffic policy. Address lists and add-on
// instances named in its conditions must exist.
func (s *Service) CreateTrafficPolicy(ctx context.Context, in *mm.CreateTrafficPolicyRequest) (*mm.CreateTrafficPolicyResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	id, name, now := newID(KindTrafficPolicy), str(in.TrafficPolicyName), s.now()
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := checkName(ctx, tx, acct, KindTrafficPolicy, name, ""); err != nil {
			return err
		}
		refs := s.newRefs(tx, acct)
		if err := refs.trafficPolicy(ctx, in.PolicyStatements); err != nil {
			return err
		}
		if _, err := rules.CompilePolicy(in.PolicyStatements, deref(in.DefaultAction), in.MaxMessageSizeBytes); err != nil {
			return err
		}
		rec := TrafficPolicyRecord{
			DefaultAction:       deref(in.DefaultAction),
			MaxMessageSizeBytes: in.MaxMessageSizeBytes,
			PolicyStatements:    in.PolicyStatements,
			Resolved:            refs.table(),
		}
		r := &Resource{
			AccountID: acct, Kind: KindTrafficPolicy, ID: id, Name: name,
			ARN: s.arn(acct, KindTrafficPolicy, id), Body: encodeBody(rec), Refs: refs.list(),
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
	return &mm.CreateTrafficPolicyResponse{TrafficPolicyId: ptr(id)}, nil
}

// GetTrafficPolicy returns a traffic policy.
func (s *Service) GetTrafficPolicy(ctx context.Context, in *mm.GetTrafficPolicyRequest) (*mm.GetTrafficPolicyResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var out *mm.GetTrafficPolicyResponse
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindTrafficPolicy, str(in.TrafficPolicyId))
		if err != nil {
			return err
		}
		rec, err := DecodeTrafficPolicy(r)
		if err != nil {
			return err
		}
		out = &mm.GetTrafficPolicyResponse{
			TrafficPolicyId:      ptr(r.ID),
			TrafficPolicyName:    ptr(r.Name),
			TrafficPolicyArn:     ptr(r.ARN),
			DefaultAction:        ptr(rec.DefaultAction),
			MaxMessageSizeBytes:  rec.MaxMessageSizeBytes,
			PolicyStatements:     nonNil(rec.PolicyStatements),
			CreatedTimestamp:     ts(r.CreatedAt),
			LastUpdatedTimestamp: ts(r.UpdatedAt),
		}
		return nil
	})
	return out, err
}

// UpdateTrafficPolicy changes the members given; PolicyStatements, when
// given, replace all statements.
func (s *Service) UpdateTrafficPolicy(ctx context.Context, in *mm.UpdateTrafficPolicyRequest) (*mm.UpdateTrafficPolicyResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindTrafficPolicy, str(in.TrafficPolicyId))
		if err != nil {
			return err
		}
		rec, err := DecodeTrafficPolicy(r)
		if err != nil {
			return err
		}
		if in.TrafficPolicyName != nil {
			if err := checkName(ctx, tx, acct, KindTrafficPolicy, *in.TrafficPolicyName, r.ID); err != nil {
				return err
			}
			r.Name = *in.TrafficPolicyName
		}
		if in.DefaultAction != nil {
			rec.DefaultAction = *in.DefaultAction
		}
		if in.MaxMessageSizeBytes != nil {
			rec.MaxMessageSizeBytes = in.MaxMessageSizeBytes
		}
		if in.PolicyStatements != nil {
			refs := s.newRefs(tx, acct)
			if err := refs.trafficPolicy(ctx, in.PolicyStatements); err != nil {
				return err
			}
			rec.PolicyStatements, rec.Resolved, r.Refs = in.PolicyStatements, refs.table(), refs.list()
		}
		// The statements and the default action are checked together, as
		// the gateway will compile them.
		if _, err := rules.CompilePolicy(rec.PolicyStatements, rec.DefaultAction, rec.MaxMessageSizeBytes); err != nil {
			return err
		}
		r.Body, r.UpdatedAt = encodeBody(rec), s.now()
		return tx.Update(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &mm.UpdateTrafficPolicyResponse{}, nil
}

// DeleteTrafficPolicy deletes a traffic policy no ingress point uses.
func (s *Service) DeleteTrafficPolicy(ctx context.Context, in *mm.DeleteTrafficPolicyRequest) (*mm.DeleteTrafficPolicyResponse, error) {
	if err := s.deleteSimple(ctx, KindTrafficPolicy, str(in.TrafficPolicyId)); err != nil {
		return nil, err
	}
	return &mm.DeleteTrafficPolicyResponse{}, nil
}

// ListTrafficPolicies lists traffic policies by ID.
func (s *Service) ListTrafficPolicies(ctx context.Context, in *mm.ListTrafficPoliciesRequest) (*mm.ListTrafficPoliciesResponse, error) {
	out := &mm.ListTrafficPoliciesResponse{TrafficPolicies: []mm.TrafficPolicy{}}
	next, err := s.list(ctx, KindTrafficPolicy, in.NextToken, in.PageSize, func(r *Resource) error {
		rec, err := DecodeTrafficPolicy(r)
		if err != nil {
			return err
		}
		out.TrafficPolicies = append(out.TrafficPolicies, mm.TrafficPolicy{
			TrafficPolicyId:   ptr(r.ID),
			TrafficPolicyName: ptr(r.Name),
			DefaultAction:     ptr(rec.DefaultAction),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	return out, nil
}

// deleteSimple deletes a resource that nothing may still use.
func (s *Service) deleteSimple(ctx context.Context, k Kind, id string) error {
	acct, err := account(ctx)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		if _, err := get(ctx, tx, acct, k, id); err != nil {
			return err
		}
		if err := checkNotInUse(ctx, tx, acct, k, id); err != nil {
			return err
		}
		return tx.Delete(ctx, acct, k, id)
	})
}

// list reads one page of a kind and hands each resource to add.
func (s *Service) list(ctx context.Context, k Kind, token *string, size *int64, add func(*Resource) error) (*string, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var next *string
	err = s.store.InTx(ctx, func(tx Tx) error {
		rs, n, err := listPage(ctx, tx, acct, k, token, size)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := add(r); err != nil {
				return err
			}
		}
		next = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// nonNil returns an empty slice for nil, so that a required list member is
// encoded as [] rather than left out.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
