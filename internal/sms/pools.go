package sms

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/smithy"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// poolRec is a pool of origination identities (the Body of a KindPool
// resource). Its members carry its ID (numberRec.PoolID, senderRec.PoolID).
type poolRec struct {
	ID                 string                `json:"id"`
	ARN                string                `json:"arn"`
	MessageType        string                `json:"messageType"`
	OptOutList         string                `json:"optOutList"`
	SelfManagedOptOuts bool                  `json:"selfManagedOptOuts,omitempty"`
	SharedRoutes       bool                  `json:"sharedRoutes,omitempty"`
	TwoWay             bool                  `json:"twoWay,omitempty"`
	TwoWayChannelARN   string                `json:"twoWayChannelArn,omitempty"`
	TwoWayChannelRole  string                `json:"twoWayChannelRole,omitempty"`
	DeletionProtection bool                  `json:"deletionProtection,omitempty"`
	Keywords           map[string]keywordRec `json:"keywords"`
	Tags               map[string]string     `json:"tags,omitempty"`
	CreatedAt          time.Time             `json:"createdAt"`
}

func (p *poolRec) info() sv.PoolInformation {
	out := sv.PoolInformation{
		CreatedTimestamp:          smithy.NewTime(p.CreatedAt),
		DeletionProtectionEnabled: ptr(p.DeletionProtection),
		MessageType:               ptr(sv.MessageType(p.MessageType)),
		OptOutListName:            ptr(p.OptOutList),
		PoolArn:                   ptr(p.ARN),
		PoolId:                    ptr(p.ID),
		SelfManagedOptOutsEnabled: ptr(p.SelfManagedOptOuts),
		SharedRoutesEnabled:       ptr(p.SharedRoutes),
		Status:                    ptr(sv.PoolStatusActive),
		TwoWayEnabled:             ptr(p.TwoWay),
	}
	if p.TwoWayChannelARN != "" {
		out.TwoWayChannelArn = ptr(p.TwoWayChannelARN)
	}
	if p.TwoWayChannelRole != "" {
		out.TwoWayChannelRole = ptr(p.TwoWayChannelRole)
	}
	return out
}

func (p *poolRec) resource(accountID string) *Resource {
	return &Resource{AccountID: accountID, Kind: KindPool, ID: p.ID, Body: encode(p), CreatedAt: p.CreatedAt}
}

func (s *Service) getPool(ctx context.Context, tx Tx, accountID, ref string) (*poolRec, error) {
	id := ref
	if typ, rest, ok := s.parseARN(accountID, ref); ok && typ == "pool" {
		id = rest
	}
	r, err := tx.Get(ctx, accountID, KindPool, id)
	if err != nil {
		return nil, restype(err, sv.ResourceTypePool, ref)
	}
	var p poolRec
	return &p, decode(r, &p)
}

// senderRec is a sender ID (the Body of a KindSenderID resource, whose ID
// is "<country>/<sender ID>").
type senderRec struct {
	SenderID           string            `json:"senderId"`
	ARN                string            `json:"arn"`
	Country            string            `json:"country"`
	MessageTypes       []string          `json:"messageTypes"`
	DeletionProtection bool              `json:"deletionProtection,omitempty"`
	PoolID             string            `json:"poolId,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	CreatedAt          time.Time         `json:"createdAt"`
}

func senderKey(country, id string) string { return strings.ToUpper(country) + "/" + id }

func (r *senderRec) info() sv.SenderIdInformation {
	mts := make([]sv.MessageType, len(r.MessageTypes))
	for i, m := range r.MessageTypes {
		mts[i] = sv.MessageType(m)
	}
	return sv.SenderIdInformation{
		DeletionProtectionEnabled: ptr(r.DeletionProtection),
		IsoCountryCode:            ptr(r.Country),
		MessageTypes:              mts,
		MonthlyLeasingPrice:       ptr(monthlyPrice),
		Registered:                ptr(false),
		SenderId:                  ptr(r.SenderID),
		SenderIdArn:               ptr(r.ARN),
	}
}

func (r *senderRec) resource(accountID string) *Resource {
	return &Resource{AccountID: accountID, Kind: KindSenderID, ID: senderKey(r.Country, r.SenderID), Body: encode(r), CreatedAt: r.CreatedAt}
}

// getSender resolves a sender ID by its ARN, or by ID and country.
func (s *Service) getSender(ctx context.Context, tx Tx, accountID, ref, country string) (*senderRec, error) {
	key := senderKey(country, ref)
	if typ, rest, ok := s.parseARN(accountID, ref); ok && typ == "sender-id" {
		id, cc, _ := strings.Cut(rest, "/")
		key = senderKey(cc, id)
	}
	r, err := tx.Get(ctx, accountID, KindSenderID, key)
	if err != nil {
		return nil, restype(err, sv.ResourceTypeSenderId, ref)
	}
	var rec senderRec
	return &rec, decode(r, &rec)
}

// RequestSenderId reserves an alphanumeric sender ID for a country.
func (s *Service) RequestSenderId(ctx context.Context, in *sv.RequestSenderIdRequest) (*sv.RequestSenderIdResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	country := strings.ToUpper(str(in.IsoCountryCode))
	if country == "US" || country == "CA" {
		// AWS: the US and Canada do not support sender IDs.
		return nil, invalid(sv.ValidationExceptionReasonSenderIdNotSupported, "Sender IDs are not supported in %s", country)
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	mts := []string{string(sv.MessageTypeTransactional), string(sv.MessageTypePromotional)}
	if len(in.MessageTypes) > 0 {
		mts = mts[:0]
		for _, m := range in.MessageTypes {
			mts = append(mts, string(m))
		}
	}
	rec := &senderRec{SenderID: str(in.SenderId), Country: country, MessageTypes: mts,
		DeletionProtection: boolv(in.DeletionProtectionEnabled), Tags: tags, CreatedAt: s.now()}
	rec.ARN = s.arn(accountID, fmt.Sprintf("sender-id/%s/%s", rec.SenderID, country))
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := s.checkLimit(ctx, tx, accountID, sv.AccountLimitNameSenderIds); err != nil {
			return err
		}
		return restype(tx.Insert(ctx, rec.resource(accountID)), sv.ResourceTypeSenderId, rec.SenderID)
	})
	if err != nil {
		return nil, err
	}
	i := rec.info()
	return &sv.RequestSenderIdResult{DeletionProtectionEnabled: i.DeletionProtectionEnabled, IsoCountryCode: i.IsoCountryCode,
		MessageTypes: i.MessageTypes, MonthlyLeasingPrice: i.MonthlyLeasingPrice, Registered: i.Registered,
		SenderId: i.SenderId, SenderIdArn: i.SenderIdArn, Tags: tagList(rec.Tags)}, nil
}

// DescribeSenderIds lists sender IDs.
func (s *Service) DescribeSenderIds(ctx context.Context, in *sv.DescribeSenderIdsRequest) (*sv.DescribeSenderIdsResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{"sender-id": true, "iso-country-code": true, "message-type": true, "deletion-protection-enabled": true, "registered": true}
	filters, err := filterMap(in.Filters, func(f sv.SenderIdFilter) string { return string(*f.Name) },
		func(f sv.SenderIdFilter) []string { return f.Values }, func(n string) bool { return known[n] })
	if err != nil {
		return nil, err
	}
	keep := func(r *senderRec) bool {
		return matches(filters, func(name string) []string {
			switch name {
			case "sender-id":
				return []string{r.SenderID}
			case "iso-country-code":
				return []string{r.Country}
			case "message-type":
				return r.MessageTypes
			case "deletion-protection-enabled":
				return []string{fmt.Sprint(r.DeletionProtection)}
			}
			return []string{"false"}
		})
	}
	list, next, err := describe(ctx, s, accountID, KindSenderID, len(in.SenderIds), func(tx Tx, i int) (*senderRec, error) {
		return s.getSender(ctx, tx, accountID, str(in.SenderIds[i].SenderId), str(in.SenderIds[i].IsoCountryCode))
	}, keep, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &sv.DescribeSenderIdsResult{SenderIds: infos(list, (*senderRec).info), NextToken: next}, nil
}

// ReleaseSenderId gives a sender ID up.
func (s *Service) ReleaseSenderId(ctx context.Context, in *sv.ReleaseSenderIdRequest) (*sv.ReleaseSenderIdResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var rec *senderRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if rec, err = s.getSender(ctx, tx, accountID, str(in.SenderId), str(in.IsoCountryCode)); err != nil {
			return err
		}
		if rec.DeletionProtection {
			return conflict(sv.ConflictExceptionReasonDeletionProtectionEnabled, sv.ResourceTypeSenderId, rec.SenderID, "Sender ID %s has deletion protection enabled", rec.SenderID)
		}
		if rec.PoolID != "" {
			return conflict(sv.ConflictExceptionReasonSenderIdAssociatedToPool, sv.ResourceTypeSenderId, rec.SenderID, "Sender ID %s belongs to pool %s", rec.SenderID, rec.PoolID)
		}
		return tx.Delete(ctx, accountID, KindSenderID, senderKey(rec.Country, rec.SenderID))
	})
	if err != nil {
		return nil, err
	}
	i := rec.info()
	return &sv.ReleaseSenderIdResult{IsoCountryCode: i.IsoCountryCode, MessageTypes: i.MessageTypes,
		MonthlyLeasingPrice: i.MonthlyLeasingPrice, Registered: i.Registered, SenderId: i.SenderId, SenderIdArn: i.SenderIdArn}, nil
}

// identity is an origination identity: a phone number or a sender ID.
type identity struct {
	number *numberRec
	sender *senderRec
}

func (o identity) arn() string {
	if o.number != nil {
		return o.number.ARN
	}
	return o.sender.ARN
}

func (o identity) poolID() string {
	if o.number != nil {
		return o.number.PoolID
	}
	return o.sender.PoolID
}

func (o identity) save(ctx context.Context, tx Tx, accountID string) error {
	if o.number != nil {
		return tx.Update(ctx, o.number.resource(accountID))
	}
	return tx.Update(ctx, o.sender.resource(accountID))
}

// getIdentity resolves a phone number (ID, ARN, E.164) or a sender ID (ARN,
// or ID with country).
func (s *Service) getIdentity(ctx context.Context, tx Tx, accountID, ref, country string) (identity, error) {
	if typ, _, ok := s.parseARN(accountID, ref); ok && typ == "sender-id" {
		r, err := s.getSender(ctx, tx, accountID, ref, "")
		return identity{sender: r}, err
	}
	if strings.HasPrefix(ref, "phone-") || strings.HasPrefix(ref, "+") || strings.HasPrefix(ref, "arn:") {
		n, err := s.getNumber(ctx, tx, accountID, ref)
		return identity{number: n}, err
	}
	r, err := s.getSender(ctx, tx, accountID, ref, country)
	return identity{sender: r}, err
}

// CreatePool makes a pool with one origination identity.
func (s *Service) CreatePool(ctx context.Context, in *sv.CreatePoolRequest) (*sv.CreatePoolResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	p := &poolRec{ID: newID("pool-"), MessageType: string(*in.MessageType), DeletionProtection: boolv(in.DeletionProtectionEnabled),
		Keywords: defaultKeywords(), Tags: tags, CreatedAt: s.now()}
	p.ARN = s.arn(accountID, "pool/"+p.ID)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := s.checkLimit(ctx, tx, accountID, sv.AccountLimitNamePools); err != nil {
			return err
		}
		o, err := s.getIdentity(ctx, tx, accountID, str(in.OriginationIdentity), str(in.IsoCountryCode))
		if err != nil {
			return err
		}
		if o.poolID() != "" {
			return alreadyPooled(o)
		}
		p.OptOutList = "Default"
		if o.number != nil {
			if o.number.MessageType != p.MessageType {
				return conflict(sv.ConflictExceptionReasonMessageTypeMismatch, sv.ResourceTypePhoneNumber, o.number.ID, "Phone number %s sends %s messages, the pool %s", o.number.ID, o.number.MessageType, p.MessageType)
			}
			p.OptOutList = o.number.OptOutList
			o.number.PoolID = p.ID
		} else {
			o.sender.PoolID = p.ID
		}
		if err := s.useOptOutList(ctx, tx, accountID, &p.OptOutList); err != nil {
			return err
		}
		if err := tx.Insert(ctx, p.resource(accountID)); err != nil {
			return err
		}
		return o.save(ctx, tx, accountID)
	})
	if err != nil {
		return nil, err
	}
	i := p.info()
	return &sv.CreatePoolResult{CreatedTimestamp: i.CreatedTimestamp, DeletionProtectionEnabled: i.DeletionProtectionEnabled,
		MessageType: i.MessageType, OptOutListName: i.OptOutListName, PoolArn: i.PoolArn, PoolId: i.PoolId,
		SelfManagedOptOutsEnabled: i.SelfManagedOptOutsEnabled, SharedRoutesEnabled: i.SharedRoutesEnabled,
		Status: ptr(sv.PoolStatusActive), Tags: tagList(p.Tags), TwoWayEnabled: i.TwoWayEnabled}, nil
}

func alreadyPooled(o identity) error {
	if o.number != nil {
		return conflict(sv.ConflictExceptionReasonPhoneNumberAssociatedToPool, sv.ResourceTypePhoneNumber, o.number.ID, "Phone number %s already belongs to pool %s", o.number.ID, o.number.PoolID)
	}
	return conflict(sv.ConflictExceptionReasonSenderIdAssociatedToPool, sv.ResourceTypeSenderId, o.sender.SenderID, "Sender ID %s already belongs to pool %s", o.sender.SenderID, o.sender.PoolID)
}

// DescribePools lists pools.
func (s *Service) DescribePools(ctx context.Context, in *sv.DescribePoolsRequest) (*sv.DescribePoolsResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, v := range sv.PoolFilterName("").Values() {
		known[string(v)] = true
	}
	filters, err := filterMap(in.Filters, func(f sv.PoolFilter) string { return string(*f.Name) },
		func(f sv.PoolFilter) []string { return f.Values }, func(n string) bool { return known[n] })
	if err != nil {
		return nil, err
	}
	keep := func(p *poolRec) bool {
		return matches(filters, func(name string) []string {
			v := map[string]string{"status": "ACTIVE", "message-type": p.MessageType, "two-way-enabled": fmt.Sprint(p.TwoWay),
				"self-managed-opt-outs-enabled": fmt.Sprint(p.SelfManagedOptOuts), "opt-out-list-name": p.OptOutList,
				"shared-routes-enabled": fmt.Sprint(p.SharedRoutes), "deletion-protection-enabled": fmt.Sprint(p.DeletionProtection),
				"two-way-channel-arn": p.TwoWayChannelARN}[name]
			return []string{v}
		})
	}
	list, next, err := describe(ctx, s, accountID, KindPool, len(in.PoolIds),
		func(tx Tx, i int) (*poolRec, error) { return s.getPool(ctx, tx, accountID, in.PoolIds[i]) },
		keep, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &sv.DescribePoolsResult{Pools: infos(list, (*poolRec).info), NextToken: next}, nil
}

// UpdatePool changes the settings of a pool.
func (s *Service) UpdatePool(ctx context.Context, in *sv.UpdatePoolRequest) (*sv.UpdatePoolResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var p *poolRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getPool(ctx, tx, accountID, str(in.PoolId)); err != nil {
			return err
		}
		if in.OptOutListName != nil {
			name := *in.OptOutListName
			if err := s.useOptOutList(ctx, tx, accountID, &name); err != nil {
				return err
			}
			p.OptOutList = name
		}
		if in.TwoWayEnabled != nil {
			p.TwoWay = *in.TwoWayEnabled
		}
		if in.TwoWayChannelArn != nil {
			p.TwoWayChannelARN = *in.TwoWayChannelArn
		}
		if in.TwoWayChannelRole != nil {
			p.TwoWayChannelRole = *in.TwoWayChannelRole
		}
		if p.TwoWay && p.TwoWayChannelARN == "" {
			return invalid(sv.ValidationExceptionReasonTwoWayChannelNotPresent, "Two-way messaging needs a TwoWayChannelArn")
		}
		if in.SelfManagedOptOutsEnabled != nil {
			p.SelfManagedOptOuts = *in.SelfManagedOptOutsEnabled
		}
		if in.SharedRoutesEnabled != nil {
			p.SharedRoutes = *in.SharedRoutesEnabled
		}
		if in.DeletionProtectionEnabled != nil {
			p.DeletionProtection = *in.DeletionProtectionEnabled
		}
		return tx.Update(ctx, p.resource(accountID))
	})
	if err != nil {
		return nil, err
	}
	i := p.info()
	return &sv.UpdatePoolResult{CreatedTimestamp: i.CreatedTimestamp, DeletionProtectionEnabled: i.DeletionProtectionEnabled,
		MessageType: i.MessageType, OptOutListName: i.OptOutListName, PoolArn: i.PoolArn, PoolId: i.PoolId,
		SelfManagedOptOutsEnabled: i.SelfManagedOptOutsEnabled, SharedRoutesEnabled: i.SharedRoutesEnabled, Status: i.Status,
		TwoWayChannelArn: i.TwoWayChannelArn, TwoWayChannelRole: i.TwoWayChannelRole, TwoWayEnabled: i.TwoWayEnabled}, nil
}

// poolMembers returns the identities of a pool.
func (s *Service) poolMembers(ctx context.Context, tx Tx, accountID, poolID string) ([]identity, error) {
	var out []identity
	for _, kind := range []Kind{KindPhoneNumber, KindSenderID} {
		after := ""
		for {
			page, err := tx.List(ctx, accountID, kind, after, 500)
			if err != nil {
				return nil, err
			}
			for _, r := range page {
				if kind == KindPhoneNumber {
					var n numberRec
					if err := decode(r, &n); err != nil {
						return nil, err
					}
					if n.PoolID == poolID {
						out = append(out, identity{number: &n})
					}
				} else {
					var rec senderRec
					if err := decode(r, &rec); err != nil {
						return nil, err
					}
					if rec.PoolID == poolID {
						out = append(out, identity{sender: &rec})
					}
				}
			}
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	return out, nil
}

// DeletePool deletes a pool; its identities leave it.
func (s *Service) DeletePool(ctx context.Context, in *sv.DeletePoolRequest) (*sv.DeletePoolResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var p *poolRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getPool(ctx, tx, accountID, str(in.PoolId)); err != nil {
			return err
		}
		if p.DeletionProtection {
			return conflict(sv.ConflictExceptionReasonDeletionProtectionEnabled, sv.ResourceTypePool, p.ID, "Pool %s has deletion protection enabled", p.ID)
		}
		members, err := s.poolMembers(ctx, tx, accountID, p.ID)
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.number != nil {
				m.number.PoolID = ""
			} else {
				m.sender.PoolID = ""
			}
			if err := m.save(ctx, tx, accountID); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, accountID, KindPool, p.ID)
	})
	if err != nil {
		return nil, err
	}
	i := p.info()
	return &sv.DeletePoolResult{CreatedTimestamp: i.CreatedTimestamp, MessageType: i.MessageType, OptOutListName: i.OptOutListName,
		PoolArn: i.PoolArn, PoolId: i.PoolId, SelfManagedOptOutsEnabled: i.SelfManagedOptOutsEnabled,
		SharedRoutesEnabled: i.SharedRoutesEnabled, Status: ptr(sv.PoolStatusDeleting),
		TwoWayChannelArn: i.TwoWayChannelArn, TwoWayChannelRole: i.TwoWayChannelRole, TwoWayEnabled: i.TwoWayEnabled}, nil
}

// AssociateOriginationIdentity adds a number or sender ID to a pool.
func (s *Service) AssociateOriginationIdentity(ctx context.Context, in *sv.AssociateOriginationIdentityRequest) (*sv.AssociateOriginationIdentityResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var (
		p *poolRec
		o identity
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getPool(ctx, tx, accountID, str(in.PoolId)); err != nil {
			return err
		}
		if o, err = s.getIdentity(ctx, tx, accountID, str(in.OriginationIdentity), str(in.IsoCountryCode)); err != nil {
			return err
		}
		if o.poolID() != "" {
			return alreadyPooled(o)
		}
		if o.number != nil {
			if o.number.MessageType != p.MessageType {
				return conflict(sv.ConflictExceptionReasonMessageTypeMismatch, sv.ResourceTypePhoneNumber, o.number.ID, "Phone number %s sends %s messages, the pool %s", o.number.ID, o.number.MessageType, p.MessageType)
			}
			o.number.PoolID = p.ID
		} else {
			o.sender.PoolID = p.ID
		}
		return o.save(ctx, tx, accountID)
	})
	if err != nil {
		return nil, err
	}
	return &sv.AssociateOriginationIdentityResult{PoolArn: ptr(p.ARN), PoolId: ptr(p.ID), OriginationIdentity: in.OriginationIdentity,
		OriginationIdentityArn: ptr(o.arn()), IsoCountryCode: ptr(identityCountry(o))}, nil
}

func identityCountry(o identity) string {
	if o.number != nil {
		return o.number.Country
	}
	return o.sender.Country
}

// DisassociateOriginationIdentity removes a number or sender ID from a
// pool; a pool keeps at least one.
func (s *Service) DisassociateOriginationIdentity(ctx context.Context, in *sv.DisassociateOriginationIdentityRequest) (*sv.DisassociateOriginationIdentityResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var (
		p *poolRec
		o identity
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getPool(ctx, tx, accountID, str(in.PoolId)); err != nil {
			return err
		}
		if o, err = s.getIdentity(ctx, tx, accountID, str(in.OriginationIdentity), str(in.IsoCountryCode)); err != nil {
			return err
		}
		if o.poolID() != p.ID {
			return conflict(sv.ConflictExceptionReasonPhoneNumberNotAssociatedToPool, sv.ResourceTypePool, p.ID, "%s does not belong to pool %s", str(in.OriginationIdentity), p.ID)
		}
		members, err := s.poolMembers(ctx, tx, accountID, p.ID)
		if err != nil {
			return err
		}
		if len(members) <= 1 {
			return conflict(sv.ConflictExceptionReasonLastPhoneNumber, sv.ResourceTypePool, p.ID, "%s is the last origination identity of pool %s", str(in.OriginationIdentity), p.ID)
		}
		if o.number != nil {
			o.number.PoolID = ""
		} else {
			o.sender.PoolID = ""
		}
		return o.save(ctx, tx, accountID)
	})
	if err != nil {
		return nil, err
	}
	return &sv.DisassociateOriginationIdentityResult{PoolArn: ptr(p.ARN), PoolId: ptr(p.ID), OriginationIdentity: in.OriginationIdentity,
		OriginationIdentityArn: ptr(o.arn()), IsoCountryCode: ptr(identityCountry(o))}, nil
}

// ListPoolOriginationIdentities lists the members of a pool.
func (s *Service) ListPoolOriginationIdentities(ctx context.Context, in *sv.ListPoolOriginationIdentitiesRequest) (*sv.ListPoolOriginationIdentitiesResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{"iso-country-code": true, "number-capability": true}
	filters, err := filterMap(in.Filters, func(f sv.PoolOriginationIdentitiesFilter) string { return string(*f.Name) },
		func(f sv.PoolOriginationIdentitiesFilter) []string { return f.Values }, func(n string) bool { return known[n] })
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("pool-members", in.NextToken)
	if err != nil {
		return nil, err
	}
	var (
		p       *poolRec
		members []identity
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getPool(ctx, tx, accountID, str(in.PoolId)); err != nil {
			return err
		}
		members, err = s.poolMembers(ctx, tx, accountID, p.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &sv.ListPoolOriginationIdentitiesResult{PoolArn: ptr(p.ARN), PoolId: ptr(p.ID), OriginationIdentities: []sv.OriginationIdentityMetadata{}}
	limit := pageSize(in.MaxResults, 50)
	for _, m := range members {
		if m.arn() <= after {
			continue
		}
		caps := []string{string(sv.NumberCapabilitySms)}
		md := sv.OriginationIdentityMetadata{IsoCountryCode: ptr(identityCountry(m)), OriginationIdentityArn: ptr(m.arn())}
		if m.number != nil {
			caps = m.number.Capabilities
			md.OriginationIdentity, md.PhoneNumber = ptr(m.number.ID), ptr(m.number.Number)
		} else {
			md.OriginationIdentity = ptr(m.sender.SenderID)
		}
		for _, c := range caps {
			md.NumberCapabilities = append(md.NumberCapabilities, sv.NumberCapability(c))
		}
		if !matches(filters, func(name string) []string {
			if name == "iso-country-code" {
				return []string{identityCountry(m)}
			}
			return caps
		}) {
			continue
		}
		if len(out.OriginationIdentities) == limit {
			out.NextToken = encodeToken("pool-members", *out.OriginationIdentities[limit-1].OriginationIdentityArn)
			break
		}
		out.OriginationIdentities = append(out.OriginationIdentities, md)
	}
	return out, nil
}

// Tags.

// tagged resolves the ARN of a tag operation: it returns the resource and
// a pointer to its record's tag map.
func (s *Service) tagged(ctx context.Context, tx Tx, accountID, arn string) (*Resource, any, *map[string]string, error) {
	typ, rest, ok := s.parseARN(accountID, arn)
	if !ok {
		return nil, nil, nil, invalid(sv.ValidationExceptionReasonInvalidArn, "Invalid ARN %s", arn)
	}
	var kind Kind
	id := rest
	switch typ {
	case "phone-number":
		kind = KindPhoneNumber
	case "pool":
		kind = KindPool
	case "sender-id":
		kind = KindSenderID
		sid, cc, _ := strings.Cut(rest, "/")
		id = senderKey(cc, sid)
	case "configuration-set":
		kind = KindConfigurationSet
	case "opt-out-list":
		kind = KindOptOutList
	default:
		return nil, nil, nil, invalid(sv.ValidationExceptionReasonInvalidArn, "Resources of type %s have no tags", typ)
	}
	r, err := tx.Get(ctx, accountID, kind, id)
	if err != nil {
		return nil, nil, nil, restype(err, sv.ResourceType(typ), arn)
	}
	var (
		rec  any
		tags *map[string]string
	)
	switch kind {
	case KindPhoneNumber:
		v := &numberRec{}
		rec, tags = v, &v.Tags
	case KindPool:
		v := &poolRec{}
		rec, tags = v, &v.Tags
	case KindSenderID:
		v := &senderRec{}
		rec, tags = v, &v.Tags
	case KindConfigurationSet:
		v := &configSetRec{}
		rec, tags = v, &v.Tags
	case KindOptOutList:
		v := &optOutListRec{}
		rec, tags = v, &v.Tags
	}
	if err := decode(r, rec); err != nil {
		return nil, nil, nil, err
	}
	if *tags == nil {
		*tags = map[string]string{}
	}
	return r, rec, tags, nil
}

// TagResource adds or replaces tags.
func (s *Service) TagResource(ctx context.Context, in *sv.TagResourceRequest) (*sv.TagResourceResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	add, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, rec, tags, err := s.tagged(ctx, tx, accountID, str(in.ResourceArn))
		if err != nil {
			return err
		}
		for k, v := range add {
			(*tags)[k] = v
		}
		if len(*tags) > maxTags {
			return fault.QuotaExceededf("A resource can have at most %d tags", maxTags)
		}
		r.Body = encode(rec)
		return tx.Update(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &sv.TagResourceResult{}, nil
}

// UntagResource removes tags.
func (s *Service) UntagResource(ctx context.Context, in *sv.UntagResourceRequest) (*sv.UntagResourceResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, rec, tags, err := s.tagged(ctx, tx, accountID, str(in.ResourceArn))
		if err != nil {
			return err
		}
		for _, k := range in.TagKeys {
			delete(*tags, k)
		}
		r.Body = encode(rec)
		return tx.Update(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &sv.UntagResourceResult{}, nil
}

// ListTagsForResource returns the tags of a resource.
func (s *Service) ListTagsForResource(ctx context.Context, in *sv.ListTagsForResourceRequest) (*sv.ListTagsForResourceResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var tags map[string]string
	err = s.store.InTx(ctx, func(tx Tx) error {
		_, _, t, err := s.tagged(ctx, tx, accountID, str(in.ResourceArn))
		if err == nil {
			tags = *t
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &sv.ListTagsForResourceResult{ResourceArn: in.ResourceArn, Tags: tagList(tags)}, nil
}
