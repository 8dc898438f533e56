package sms

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/smithy"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// policyEntry is the entry key of a resource's policy.
const policyEntry = "policy"

// policyTarget resolves the ARN of a resource that can have a policy (a
// phone number, sender ID, pool, opt-out list or protect configuration of
// the caller's account) to its kind and store ID, checking it exists.
func (s *Service) policyTarget(ctx context.Context, tx Tx, accountID, arn string) (Kind, string, error) {
	typ, _, ok := s.parseARN(accountID, arn)
	if !ok {
		if strings.HasPrefix(arn, "arn:aws:sms-voice:") {
			return "", "", notFound(sv.ResourceTypePolicy, arn, "Resource %s does not exist", arn)
		}
		return "", "", &fault.Error{Kind: fault.Invalid, Reason: string(sv.ValidationExceptionReasonInvalidArn),
			Message: "ResourceArn " + arn + " is not the ARN of an End User Messaging resource"}
	}
	switch Kind(typ) {
	case KindPhoneNumber:
		n, err := s.getNumber(ctx, tx, accountID, arn)
		if err != nil {
			return "", "", err
		}
		return KindPhoneNumber, n.ID, nil
	case KindSenderID:
		r, err := s.getSender(ctx, tx, accountID, arn, "")
		if err != nil {
			return "", "", err
		}
		return KindSenderID, senderKey(r.Country, r.SenderID), nil
	case KindPool:
		p, err := s.getPool(ctx, tx, accountID, arn)
		if err != nil {
			return "", "", err
		}
		return KindPool, p.ID, nil
	case KindOptOutList:
		l, err := s.getOptOutList(ctx, tx, accountID, arn)
		if err != nil {
			return "", "", err
		}
		return KindOptOutList, l.Name, nil
	case KindProtectConfig:
		p, err := s.getProtect(ctx, tx, accountID, arn)
		if err != nil {
			return "", "", err
		}
		return KindProtectConfig, p.ID, nil
	}
	return "", "", &fault.Error{Kind: fault.Invalid, Reason: string(sv.ValidationExceptionReasonInvalidArn),
		Message: "A " + typ + " cannot have a resource policy: phone numbers, sender IDs, pools, opt-out lists and protect configurations can"}
}

// PutResourcePolicy attaches a policy (a JSON document, kept as given) to
// a resource, replacing its policy. Tidings stores and returns it; it does
// not evaluate it (the resource is the account's own).
func (s *Service) PutResourcePolicy(ctx context.Context, in *sv.PutResourcePolicyRequest) (*sv.PutResourcePolicyResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	policy := str(in.Policy)
	var doc map[string]any
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return nil, &fault.Error{Kind: fault.Invalid, Reason: string(sv.ValidationExceptionReasonInvalidParameter),
			Message: "Policy is not a JSON object: " + err.Error()}
	}
	e := &Entry{Key: policyEntry, Body: []byte(policy), CreatedAt: s.now(), UpdatedAt: s.now()}
	err = s.store.InTx(ctx, func(tx Tx) error {
		kind, id, err := s.policyTarget(ctx, tx, accountID, str(in.ResourceArn))
		if err != nil {
			return err
		}
		return tx.PutEntry(ctx, accountID, kind, id, e)
	})
	if err != nil {
		return nil, err
	}
	return &sv.PutResourcePolicyResult{CreatedTimestamp: smithy.NewTime(e.CreatedAt), Policy: ptr(policy), ResourceArn: in.ResourceArn}, nil
}

// resourcePolicy returns a resource's policy, nil when it has none.
func (s *Service) resourcePolicy(ctx context.Context, arn string, remove bool) (*Entry, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var e *Entry
	err = s.store.InTx(ctx, func(tx Tx) error {
		kind, id, err := s.policyTarget(ctx, tx, accountID, arn)
		if err != nil {
			return err
		}
		e, err = tx.GetEntry(ctx, accountID, kind, id, policyEntry)
		if fault.Is(err, fault.NotFound) {
			e = nil
			if remove {
				return notFound(sv.ResourceTypePolicy, arn, "Resource %s has no policy", arn)
			}
			return nil
		}
		if err != nil || !remove {
			return err
		}
		return tx.DeleteEntry(ctx, accountID, kind, id, policyEntry)
	})
	return e, err
}

// GetResourcePolicy returns a resource's policy (only ResourceArn when it
// has none).
func (s *Service) GetResourcePolicy(ctx context.Context, in *sv.GetResourcePolicyRequest) (*sv.GetResourcePolicyResult, error) {
	e, err := s.resourcePolicy(ctx, str(in.ResourceArn), false)
	if err != nil {
		return nil, err
	}
	out := &sv.GetResourcePolicyResult{ResourceArn: in.ResourceArn}
	if e != nil {
		out.Policy, out.CreatedTimestamp = ptr(string(e.Body)), smithy.NewTime(e.CreatedAt)
	}
	return out, nil
}

// DeleteResourcePolicy removes a resource's policy and returns it.
func (s *Service) DeleteResourcePolicy(ctx context.Context, in *sv.DeleteResourcePolicyRequest) (*sv.DeleteResourcePolicyResult, error) {
	e, err := s.resourcePolicy(ctx, str(in.ResourceArn), true)
	if err != nil {
		return nil, err
	}
	return &sv.DeleteResourcePolicyResult{ResourceArn: in.ResourceArn, Policy: ptr(string(e.Body)), CreatedTimestamp: smithy.NewTime(e.CreatedAt)}, nil
}

// UpdateSenderId changes a sender ID's deletion protection.
func (s *Service) UpdateSenderId(ctx context.Context, in *sv.UpdateSenderIdRequest) (*sv.UpdateSenderIdResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var rec *senderRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if rec, err = s.getSender(ctx, tx, accountID, str(in.SenderId), strings.ToUpper(str(in.IsoCountryCode))); err != nil {
			return err
		}
		if in.DeletionProtectionEnabled != nil {
			rec.DeletionProtection = *in.DeletionProtectionEnabled
		}
		return tx.Update(ctx, rec.resource(accountID))
	})
	if err != nil {
		return nil, err
	}
	i := rec.info()
	return &sv.UpdateSenderIdResult{DeletionProtectionEnabled: i.DeletionProtectionEnabled, IsoCountryCode: i.IsoCountryCode,
		MessageTypes: i.MessageTypes, MonthlyLeasingPrice: i.MonthlyLeasingPrice, Registered: i.Registered,
		SenderId: i.SenderId, SenderIdArn: i.SenderIdArn}, nil
}
