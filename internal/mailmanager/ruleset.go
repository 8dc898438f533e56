package mailmanager

import (
	"context"
	"github.com/tidings/tidings/internal/rules"

	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// CreateRuleSet creates a rule set. Archives, relays, address lists and
// add-on instances named in its rules must exist.
func (s *Service) CreateRuleSet(ctx context.Context, in *mm.CreateRuleSetRequest) (*mm.CreateRuleSetResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	id, name, now := newID(KindRuleSet), str(in.RuleSetName), s.now()
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := checkName(ctx, tx, acct, KindRuleSet, name, ""); err != nil {
			return err
		}
		refs := s.newRefs(tx, acct)
		if err := refs.rules(ctx, in.Rules); err != nil {
			return err
		}
		// What the gateway will compile is checked now, not when mail comes.
		if _, err := rules.CompileRuleSet(in.Rules); err != nil {
			return err
		}
		rec := RuleSetRecord{Rules: nonNil(in.Rules), Resolved: refs.table()}
		r := &Resource{
			AccountID: acct, Kind: KindRuleSet, ID: id, Name: name,
			ARN: s.arn(acct, KindRuleSet, id), Body: encodeBody(rec), Refs: refs.list(),
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
	return &mm.CreateRuleSetResponse{RuleSetId: ptr(id)}, nil
}

// GetRuleSet returns a rule set.
func (s *Service) GetRuleSet(ctx context.Context, in *mm.GetRuleSetRequest) (*mm.GetRuleSetResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var out *mm.GetRuleSetResponse
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindRuleSet, str(in.RuleSetId))
		if err != nil {
			return err
		}
		rec, err := DecodeRuleSet(r)
		if err != nil {
			return err
		}
		out = &mm.GetRuleSetResponse{
			RuleSetId:            ptr(r.ID),
			RuleSetName:          ptr(r.Name),
			RuleSetArn:           ptr(r.ARN),
			Rules:                nonNil(rec.Rules),
			CreatedDate:          ts(r.CreatedAt),
			LastModificationDate: ts(r.UpdatedAt),
		}
		return nil
	})
	return out, err
}

// UpdateRuleSet renames a rule set and/or replaces all its rules.
func (s *Service) UpdateRuleSet(ctx context.Context, in *mm.UpdateRuleSetRequest) (*mm.UpdateRuleSetResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindRuleSet, str(in.RuleSetId))
		if err != nil {
			return err
		}
		rec, err := DecodeRuleSet(r)
		if err != nil {
			return err
		}
		if in.RuleSetName != nil {
			if err := checkName(ctx, tx, acct, KindRuleSet, *in.RuleSetName, r.ID); err != nil {
				return err
			}
			r.Name = *in.RuleSetName
		}
		if in.Rules != nil {
			refs := s.newRefs(tx, acct)
			if err := refs.rules(ctx, in.Rules); err != nil {
				return err
			}
			if _, err := rules.CompileRuleSet(in.Rules); err != nil {
				return err
			}
			rec.Rules, rec.Resolved, r.Refs = in.Rules, refs.table(), refs.list()
		}
		r.Body, r.UpdatedAt = encodeBody(rec), s.now()
		return tx.Update(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &mm.UpdateRuleSetResponse{}, nil
}

// DeleteRuleSet deletes a rule set no ingress point uses.
func (s *Service) DeleteRuleSet(ctx context.Context, in *mm.DeleteRuleSetRequest) (*mm.DeleteRuleSetResponse, error) {
	if err := s.deleteSimple(ctx, KindRuleSet, str(in.RuleSetId)); err != nil {
		return nil, err
	}
	return &mm.DeleteRuleSetResponse{}, nil
}

// ListRuleSets lists rule sets by ID.
func (s *Service) ListRuleSets(ctx context.Context, in *mm.ListRuleSetsRequest) (*mm.ListRuleSetsResponse, error) {
	out := &mm.ListRuleSetsResponse{RuleSets: []mm.RuleSet{}}
	next, err := s.list(ctx, KindRuleSet, in.NextToken, in.PageSize, func(r *Resource) error {
		out.RuleSets = append(out.RuleSets, mm.RuleSet{
			RuleSetId:            ptr(r.ID),
			RuleSetName:          ptr(r.Name),
			LastModificationDate: ts(r.UpdatedAt),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	return out, nil
}
