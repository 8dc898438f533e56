package mailmanager

import (
	"context"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/rspamd"
)

// AddonNames are the add-ons a subscription may name: AWS's, as AWS
// documents them, and RSPAMD, Tidings's own (internal/rspamd). Tidings
// stores subscriptions and instances of every one, so that configurations
// written for AWS load; only RSPAMD instances can be analyzers of traffic
// policy and rule conditions, as AWS's add-ons are third-party services
// Tidings cannot reach (refs.analyzer refuses the others).
var AddonNames = []string{
	"ABUSIX_MAIL_INTELLIGENCE",
	rspamd.AddonName,
	"SPAMHAUS_DBL",
	"TRENDMICRO_VSAPI",
	"VADE_ADVANCED_EMAIL_SECURITY",
}

func knownAddon(name string) bool {
	for _, n := range AddonNames {
		if n == name {
			return true
		}
	}
	return false
}

// CreateAddonSubscription subscribes the account to an add-on; there is at
// most one subscription per add-on name.
func (s *Service) CreateAddonSubscription(ctx context.Context, in *mm.CreateAddonSubscriptionRequest) (*mm.CreateAddonSubscriptionResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	name := str(in.AddonName)
	if !knownAddon(name) {
		return nil, fault.Invalidf("Unknown add-on %q; valid names: %s", name, strings.Join(AddonNames, ", "))
	}
	id, now := newID(KindAddonSubscription), s.now()
	err = s.store.InTx(ctx, func(tx Tx) error {
		if other, err := tx.GetByName(ctx, acct, KindAddonSubscription, name); err == nil {
			return fault.Conflictf("The account already has a subscription to %s: %s", name, other.ID)
		} else if !fault.Is(err, fault.NotFound) {
			return err
		}
		r := &Resource{
			AccountID: acct, Kind: KindAddonSubscription, ID: id, Name: name,
			ARN: s.arn(acct, KindAddonSubscription, id), Body: encodeBody(AddonSubscriptionRecord{AddonName: name}),
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
	return &mm.CreateAddonSubscriptionResponse{AddonSubscriptionId: ptr(id)}, nil
}

// GetAddonSubscription returns a subscription.
func (s *Service) GetAddonSubscription(ctx context.Context, in *mm.GetAddonSubscriptionRequest) (*mm.GetAddonSubscriptionResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var out *mm.GetAddonSubscriptionResponse
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindAddonSubscription, str(in.AddonSubscriptionId))
		if err != nil {
			return err
		}
		out = &mm.GetAddonSubscriptionResponse{
			AddonName:            ptr(r.Name),
			AddonSubscriptionArn: ptr(r.ARN),
			CreatedTimestamp:     ts(r.CreatedAt),
		}
		return nil
	})
	return out, err
}

// DeleteAddonSubscription deletes a subscription that has no instances.
func (s *Service) DeleteAddonSubscription(ctx context.Context, in *mm.DeleteAddonSubscriptionRequest) (*mm.DeleteAddonSubscriptionResponse, error) {
	if err := s.deleteSimple(ctx, KindAddonSubscription, str(in.AddonSubscriptionId)); err != nil {
		return nil, err
	}
	return &mm.DeleteAddonSubscriptionResponse{}, nil
}

// ListAddonSubscriptions lists subscriptions by ID.
func (s *Service) ListAddonSubscriptions(ctx context.Context, in *mm.ListAddonSubscriptionsRequest) (*mm.ListAddonSubscriptionsResponse, error) {
	out := &mm.ListAddonSubscriptionsResponse{AddonSubscriptions: []mm.AddonSubscription{}}
	next, err := s.list(ctx, KindAddonSubscription, in.NextToken, in.PageSize, func(r *Resource) error {
		out.AddonSubscriptions = append(out.AddonSubscriptions, mm.AddonSubscription{
			AddonSubscriptionId:  ptr(r.ID),
			AddonSubscriptionArn: ptr(r.ARN),
			AddonName:            ptr(r.Name),
			CreatedTimestamp:     ts(r.CreatedAt),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	return out, nil
}

// CreateAddonInstance creates an instance of a subscribed add-on; its ARN
// is what rule and policy conditions name as Analyzer.
func (s *Service) CreateAddonInstance(ctx context.Context, in *mm.CreateAddonInstanceRequest) (*mm.CreateAddonInstanceResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	id, subID, now := newID(KindAddonInstance), str(in.AddonSubscriptionId), s.now()
	err = s.store.InTx(ctx, func(tx Tx) error {
		sub, err := get(ctx, tx, acct, KindAddonSubscription, subID)
		if err != nil {
			return err
		}
		rec := AddonInstanceRecord{AddonSubscriptionID: sub.ID, AddonName: sub.Name}
		r := &Resource{
			AccountID: acct, Kind: KindAddonInstance, ID: id,
			ARN: s.arn(acct, KindAddonInstance, id), Body: encodeBody(rec), Refs: []string{sub.ID},
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
	return &mm.CreateAddonInstanceResponse{AddonInstanceId: ptr(id)}, nil
}

// GetAddonInstance returns an add-on instance.
func (s *Service) GetAddonInstance(ctx context.Context, in *mm.GetAddonInstanceRequest) (*mm.GetAddonInstanceResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var out *mm.GetAddonInstanceResponse
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindAddonInstance, str(in.AddonInstanceId))
		if err != nil {
			return err
		}
		rec, err := decodeBody[AddonInstanceRecord](r)
		if err != nil {
			return err
		}
		out = &mm.GetAddonInstanceResponse{
			AddonInstanceArn:    ptr(r.ARN),
			AddonName:           ptr(rec.AddonName),
			AddonSubscriptionId: ptr(rec.AddonSubscriptionID),
			CreatedTimestamp:    ts(r.CreatedAt),
		}
		return nil
	})
	return out, err
}

// DeleteAddonInstance deletes an instance that no rule set or traffic
// policy uses.
func (s *Service) DeleteAddonInstance(ctx context.Context, in *mm.DeleteAddonInstanceRequest) (*mm.DeleteAddonInstanceResponse, error) {
	if err := s.deleteSimple(ctx, KindAddonInstance, str(in.AddonInstanceId)); err != nil {
		return nil, err
	}
	return &mm.DeleteAddonInstanceResponse{}, nil
}

// ListAddonInstances lists add-on instances by ID.
func (s *Service) ListAddonInstances(ctx context.Context, in *mm.ListAddonInstancesRequest) (*mm.ListAddonInstancesResponse, error) {
	out := &mm.ListAddonInstancesResponse{AddonInstances: []mm.AddonInstance{}}
	next, err := s.list(ctx, KindAddonInstance, in.NextToken, in.PageSize, func(r *Resource) error {
		rec, err := decodeBody[AddonInstanceRecord](r)
		if err != nil {
			return err
		}
		out.AddonInstances = append(out.AddonInstances, mm.AddonInstance{
			AddonInstanceId:     ptr(r.ID),
			AddonInstanceArn:    ptr(r.ARN),
			AddonName:           ptr(rec.AddonName),
			AddonSubscriptionId: ptr(rec.AddonSubscriptionID),
			CreatedTimestamp:    ts(r.CreatedAt),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	return out, nil
}
