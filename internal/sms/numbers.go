package sms

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/smithy"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// keywordRec is one keyword of a number or pool.
type keywordRec struct {
	Message string `json:"message"`
	Action  string `json:"action"`
}

// defaultKeywords are those every new number answers, as AWS sets them up.
func defaultKeywords() map[string]keywordRec {
	return map[string]keywordRec{
		"HELP": {Message: "Reply STOP to unsubscribe. Msg&data rates may apply.", Action: string(sv.KeywordActionAutomaticResponse)},
		"STOP": {Message: "You have been unsubscribed and will no longer receive messages from this number. Reply START to subscribe again.", Action: string(sv.KeywordActionOptOut)},
	}
}

// numberRec is a phone number as the service keeps it (the Body of a
// KindPhoneNumber resource).
type numberRec struct {
	ID                   string                `json:"id"`
	Number               string                `json:"number"`
	ARN                  string                `json:"arn"`
	Country              string                `json:"country"`
	MessageType          string                `json:"messageType"`
	Capabilities         []string              `json:"capabilities"`
	NumberType           string                `json:"numberType"`
	Status               string                `json:"status"`
	OptOutList           string                `json:"optOutList"`
	SelfManagedOptOuts   bool                  `json:"selfManagedOptOuts,omitempty"`
	TwoWay               bool                  `json:"twoWay,omitempty"`
	TwoWayChannelARN     string                `json:"twoWayChannelArn,omitempty"`
	TwoWayChannelRole    string                `json:"twoWayChannelRole,omitempty"`
	DeletionProtection   bool                  `json:"deletionProtection,omitempty"`
	InternationalSending bool                  `json:"internationalSending,omitempty"`
	PoolID               string                `json:"poolId,omitempty"`
	RegistrationID       string                `json:"registrationId,omitempty"`
	Keywords             map[string]keywordRec `json:"keywords"`
	Tags                 map[string]string     `json:"tags,omitempty"`
	CreatedAt            time.Time             `json:"createdAt"`
}

// monthlyPrice is the MonthlyLeasingPrice Tidings reports: it charges
// nothing.
const monthlyPrice = "0.00"

func (n *numberRec) info() sv.PhoneNumberInformation {
	caps := make([]sv.NumberCapability, len(n.Capabilities))
	for i, c := range n.Capabilities {
		caps[i] = sv.NumberCapability(c)
	}
	out := sv.PhoneNumberInformation{
		CreatedTimestamp:            smithy.NewTime(n.CreatedAt),
		DeletionProtectionEnabled:   ptr(n.DeletionProtection),
		InternationalSendingEnabled: ptr(n.InternationalSending),
		IsoCountryCode:              ptr(n.Country),
		MessageType:                 ptr(sv.MessageType(n.MessageType)),
		MonthlyLeasingPrice:         ptr(monthlyPrice),
		NumberCapabilities:          caps,
		NumberType:                  ptr(sv.NumberType(n.NumberType)),
		OptOutListName:              ptr(n.OptOutList),
		PhoneNumber:                 ptr(n.Number),
		PhoneNumberArn:              ptr(n.ARN),
		PhoneNumberId:               ptr(n.ID),
		SelfManagedOptOutsEnabled:   ptr(n.SelfManagedOptOuts),
		Status:                      ptr(sv.NumberStatus(n.Status)),
		TwoWayEnabled:               ptr(n.TwoWay),
	}
	if n.PoolID != "" {
		out.PoolId = ptr(n.PoolID)
	}
	if n.RegistrationID != "" {
		out.RegistrationId = ptr(n.RegistrationID)
	}
	if n.TwoWayChannelARN != "" {
		out.TwoWayChannelArn = ptr(n.TwoWayChannelARN)
	}
	if n.TwoWayChannelRole != "" {
		out.TwoWayChannelRole = ptr(n.TwoWayChannelRole)
	}
	return out
}

func (n *numberRec) resource(accountID string) *Resource {
	return &Resource{AccountID: accountID, Kind: KindPhoneNumber, ID: n.ID, GlobalKey: n.Number, Body: encode(n), CreatedAt: n.CreatedAt}
}

func (n *numberRec) hasCapability(c sv.NumberCapability) bool {
	return slices.Contains(n.Capabilities, string(c))
}

// getNumber resolves a phone number by its ID, ARN or E.164 number.
func (s *Service) getNumber(ctx context.Context, tx Tx, accountID, ref string) (*numberRec, error) {
	id := ref
	if typ, rest, ok := s.parseARN(accountID, ref); ok && typ == "phone-number" {
		id = rest
	}
	var (
		r   *Resource
		err error
	)
	if strings.HasPrefix(id, "+") {
		r, err = tx.GetByKey(ctx, KindPhoneNumber, id)
		if err == nil && r.AccountID != accountID {
			err = fault.NotFoundf("not found")
		}
	} else {
		r, err = tx.Get(ctx, accountID, KindPhoneNumber, id)
	}
	if err != nil {
		return nil, restype(err, sv.ResourceTypePhoneNumber, ref)
	}
	var n numberRec
	return &n, decode(r, &n)
}

func (s *Service) putNumber(ctx context.Context, tx Tx, accountID string, n *numberRec) error {
	return tx.Update(ctx, n.resource(accountID))
}

// Synthetic number ranges. Tidings allocates numbers itself: a US
// LONG_CODE, TEN_DLC or SIMULATOR number is +1 NPA 555 XXXX (NPA from
// usAreaCodes), a TOLL_FREE one +1 8XX 555 XXXX; other countries get the
// example mobile number of the country (libphonenumber's metadata) with
// random last four digits.
var (
	usAreaCodes       = []string{"206", "425", "253", "360", "509"}
	tollFreeAreaCodes = []string{"833", "844", "855", "866", "877", "888"}
)

func randDigits(n int) string {
	var b strings.Builder
	for range n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

func pick(list []string) string {
	i, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	return list[i.Int64()]
}

func candidateNumber(country, numberType string) (string, error) {
	if country == "US" || (country == "CA" && numberType == string(sv.NumberTypeTollFree)) {
		area := pick(usAreaCodes)
		if numberType == string(sv.NumberTypeTollFree) {
			area = pick(tollFreeAreaCodes)
		}
		return "+1" + area + "555" + randDigits(4), nil
	}
	ex := phonenumbers.GetExampleNumberForType(country, phonenumbers.MOBILE)
	if ex == nil {
		return "", invalid(sv.ValidationExceptionReasonCountryNotEnabled, "Tidings cannot allocate numbers in %s", country)
	}
	nat := fmt.Sprint(ex.GetNationalNumber())
	if len(nat) < 6 {
		return "", invalid(sv.ValidationExceptionReasonCountryNotEnabled, "Tidings cannot allocate numbers in %s", country)
	}
	return fmt.Sprintf("+%d%s%s", ex.GetCountryCode(), nat[:len(nat)-4], randDigits(4)), nil
}

// RequestPhoneNumber allocates a number to the account.
func (s *Service) RequestPhoneNumber(ctx context.Context, in *sv.RequestPhoneNumberRequest) (*sv.RequestPhoneNumberResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	country := strings.ToUpper(str(in.IsoCountryCode))
	if phonenumbers.GetCountryCodeForRegion(country) == 0 {
		return nil, invalid(sv.ValidationExceptionReasonInvalidParameter, "Unknown IsoCountryCode %q", country)
	}
	nt := string(*in.NumberType)
	switch {
	case nt == string(sv.NumberTypeSimulator) && country != "US":
		return nil, invalid(sv.ValidationExceptionReasonCountryNotEnabled, "Simulator origination numbers are available in the United States (US) only")
	case nt == string(sv.NumberTypeTenDlc) && country != "US":
		return nil, invalid(sv.ValidationExceptionReasonCountryNotEnabled, "10DLC numbers are available in the United States (US) only")
	case nt == string(sv.NumberTypeTollFree) && country != "US" && country != "CA":
		return nil, invalid(sv.ValidationExceptionReasonCountryNotEnabled, "Toll-free numbers are available in the United States and Canada only")
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	caps := make([]string, 0, len(in.NumberCapabilities))
	for _, c := range in.NumberCapabilities {
		if !slices.Contains(caps, string(c)) {
			caps = append(caps, string(c))
		}
	}
	now := s.now()
	n := &numberRec{
		ID:                   newID("phone-"),
		Country:              country,
		MessageType:          string(*in.MessageType),
		Capabilities:         caps,
		NumberType:           nt,
		Status:               string(sv.NumberStatusActive),
		OptOutList:           str(in.OptOutListName),
		DeletionProtection:   boolv(in.DeletionProtectionEnabled),
		InternationalSending: boolv(in.InternationalSendingEnabled),
		RegistrationID:       str(in.RegistrationId),
		Keywords:             defaultKeywords(),
		Tags:                 tags,
		CreatedAt:            now,
	}
	n.ARN = s.arn(accountID, "phone-number/"+n.ID)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := s.useOptOutList(ctx, tx, accountID, &n.OptOutList); err != nil {
			return err
		}
		var pool *poolRec
		if in.PoolId != nil {
			p, err := s.getPool(ctx, tx, accountID, *in.PoolId)
			if err != nil {
				return err
			}
			if p.MessageType != n.MessageType {
				return conflict(sv.ConflictExceptionReasonMessageTypeMismatch, sv.ResourceTypePool, p.ID, "The pool's message type is %s, the number's %s", p.MessageType, n.MessageType)
			}
			pool, n.PoolID = p, p.ID
		}
		_ = pool
		if err := s.checkLimit(ctx, tx, accountID, sv.AccountLimitNamePhoneNumbers); err != nil {
			return err
		}
		for range 50 {
			num, err := candidateNumber(country, nt)
			if err != nil {
				return err
			}
			n.Number = num
			err = tx.Insert(ctx, n.resource(accountID))
			if !fault.Is(err, fault.Conflict) {
				return err
			}
		}
		return fault.QuotaExceededf("No free number left in the synthetic range of %s", country)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("phone number requested", "account", accountID, "number", n.Number, "type", nt)
	i := n.info()
	return &sv.RequestPhoneNumberResult{
		CreatedTimestamp: i.CreatedTimestamp, DeletionProtectionEnabled: i.DeletionProtectionEnabled,
		InternationalSendingEnabled: i.InternationalSendingEnabled, IsoCountryCode: i.IsoCountryCode,
		MessageType: i.MessageType, MonthlyLeasingPrice: i.MonthlyLeasingPrice, NumberCapabilities: i.NumberCapabilities,
		NumberType: ptr(sv.RequestableNumberType(nt)), OptOutListName: i.OptOutListName, PhoneNumber: i.PhoneNumber,
		PhoneNumberArn: i.PhoneNumberArn, PhoneNumberId: i.PhoneNumberId, PoolId: i.PoolId, RegistrationId: i.RegistrationId,
		SelfManagedOptOutsEnabled: i.SelfManagedOptOutsEnabled, Status: i.Status, Tags: tagList(n.Tags),
		TwoWayEnabled: i.TwoWayEnabled,
	}, nil
}

// numberFilter matches a number against one DescribePhoneNumbers filter.
func numberFilter(n *numberRec, name string) (string, bool) {
	switch sv.PhoneNumberFilterName(name) {
	case sv.PhoneNumberFilterNameStatus:
		return n.Status, true
	case sv.PhoneNumberFilterNameIsoCountryCode:
		return n.Country, true
	case sv.PhoneNumberFilterNameMessageType:
		return n.MessageType, true
	case sv.PhoneNumberFilterNameNumberType:
		return n.NumberType, true
	case sv.PhoneNumberFilterNameTwoWayEnabled:
		return fmt.Sprint(n.TwoWay), true
	case sv.PhoneNumberFilterNameSelfManagedOptOutsEnabled:
		return fmt.Sprint(n.SelfManagedOptOuts), true
	case sv.PhoneNumberFilterNameOptOutListName:
		return n.OptOutList, true
	case sv.PhoneNumberFilterNameDeletionProtectionEnabled:
		return fmt.Sprint(n.DeletionProtection), true
	case sv.PhoneNumberFilterNameTwoWayChannelArn:
		return n.TwoWayChannelARN, true
	}
	return "", false
}

// matches applies filters (name → accepted values) with get giving a
// resource's value for a name; number-capability matches any capability.
func matches(filters map[string][]string, get func(name string) []string) bool {
	for name, values := range filters {
		ok := false
		for _, have := range get(name) {
			if slices.ContainsFunc(values, func(v string) bool { return strings.EqualFold(v, have) }) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// describe is the shape of every Describe operation: the n resources the
// request names (get resolves the i-th; a missing one is an error), or a
// page of the account's resources of a kind from the NextToken on; either
// way only those keep accepts.
func describe[T any](ctx context.Context, s *Service, accountID string, kind Kind, n int, get func(tx Tx, i int) (*T, error),
	keep func(*T) bool, token *string, max *int64) ([]*T, *string, error) {
	var out []*T
	if n > 0 {
		err := s.store.InTx(ctx, func(tx Tx) error {
			out = out[:0]
			for i := range n {
				v, err := get(tx, i)
				if err != nil {
					return err
				}
				if keep(v) {
					out = append(out, v)
				}
			}
			return nil
		})
		return out, nil, err
	}
	after, err := decodeToken(string(kind), token)
	if err != nil {
		return nil, nil, err
	}
	limit := pageSize(max, 50)
	var lastID []string
	err = s.store.InTx(ctx, func(tx Tx) error {
		out, lastID = out[:0], lastID[:0]
		cur := after
		for {
			page, err := tx.List(ctx, accountID, kind, cur, 200)
			if err != nil {
				return err
			}
			for _, r := range page {
				v := new(T)
				if err := decode(r, v); err != nil {
					return err
				}
				if keep(v) {
					out, lastID = append(out, v), append(lastID, r.ID)
					if len(out) > limit {
						return nil
					}
				}
			}
			if len(page) < 200 {
				return nil
			}
			cur = page[len(page)-1].ID
		}
	})
	if err != nil {
		return nil, nil, err
	}
	var next *string
	if len(out) > limit {
		out = out[:limit]
		next = encodeToken(string(kind), lastID[limit-1])
	}
	return out, next, nil
}

// infos converts records to their wire shapes (never nil: the model's
// lists are required).
func infos[T, I any](list []*T, info func(*T) I) []I {
	out := make([]I, 0, len(list))
	for _, v := range list {
		out = append(out, info(v))
	}
	return out
}

func filterMap[F any](filters []F, name func(F) string, values func(F) []string, known func(string) bool) (map[string][]string, error) {
	m := map[string][]string{}
	for _, f := range filters {
		n := name(f)
		if !known(n) {
			return nil, invalid(sv.ValidationExceptionReasonInvalidFilterValues, "Unknown filter %q", n)
		}
		m[n] = append(m[n], values(f)...)
	}
	return m, nil
}

// DescribePhoneNumbers lists the account's numbers, by ID or by filters.
func (s *Service) DescribePhoneNumbers(ctx context.Context, in *sv.DescribePhoneNumbersRequest) (*sv.DescribePhoneNumbersResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := filterMap(in.Filters, func(f sv.PhoneNumberFilter) string { return string(*f.Name) },
		func(f sv.PhoneNumberFilter) []string { return f.Values },
		func(n string) bool {
			_, ok := numberFilter(&numberRec{}, n)
			return ok || n == string(sv.PhoneNumberFilterNameNumberCapability)
		})
	if err != nil {
		return nil, err
	}
	keep := func(n *numberRec) bool {
		return matches(filters, func(name string) []string {
			if name == string(sv.PhoneNumberFilterNameNumberCapability) {
				return n.Capabilities
			}
			v, _ := numberFilter(n, name)
			return []string{v}
		})
	}
	list, next, err := describe(ctx, s, accountID, KindPhoneNumber, len(in.PhoneNumberIds),
		func(tx Tx, i int) (*numberRec, error) { return s.getNumber(ctx, tx, accountID, in.PhoneNumberIds[i]) },
		keep, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &sv.DescribePhoneNumbersResult{PhoneNumbers: infos(list, (*numberRec).info), NextToken: next}, nil
}

// UpdatePhoneNumber changes the settings of a number.
func (s *Service) UpdatePhoneNumber(ctx context.Context, in *sv.UpdatePhoneNumberRequest) (*sv.UpdatePhoneNumberResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var n *numberRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if n, err = s.getNumber(ctx, tx, accountID, str(in.PhoneNumberId)); err != nil {
			return err
		}
		if in.OptOutListName != nil {
			name := *in.OptOutListName
			if err := s.useOptOutList(ctx, tx, accountID, &name); err != nil {
				return err
			}
			n.OptOutList = name
		}
		if in.TwoWayEnabled != nil {
			n.TwoWay = *in.TwoWayEnabled
		}
		if in.TwoWayChannelArn != nil {
			n.TwoWayChannelARN = *in.TwoWayChannelArn
		}
		if in.TwoWayChannelRole != nil {
			n.TwoWayChannelRole = *in.TwoWayChannelRole
		}
		if n.TwoWay && n.TwoWayChannelARN == "" {
			return invalid(sv.ValidationExceptionReasonTwoWayChannelNotPresent, "Two-way messaging needs a TwoWayChannelArn")
		}
		if in.SelfManagedOptOutsEnabled != nil {
			n.SelfManagedOptOuts = *in.SelfManagedOptOutsEnabled
		}
		if in.DeletionProtectionEnabled != nil {
			n.DeletionProtection = *in.DeletionProtectionEnabled
		}
		return s.putNumber(ctx, tx, accountID, n)
	})
	if err != nil {
		return nil, err
	}
	i := n.info()
	return &sv.UpdatePhoneNumberResult{
		CreatedTimestamp: i.CreatedTimestamp, DeletionProtectionEnabled: i.DeletionProtectionEnabled,
		InternationalSendingEnabled: i.InternationalSendingEnabled, IsoCountryCode: i.IsoCountryCode,
		MessageType: i.MessageType, MonthlyLeasingPrice: i.MonthlyLeasingPrice, NumberCapabilities: i.NumberCapabilities,
		NumberType: i.NumberType, OptOutListName: i.OptOutListName, PhoneNumber: i.PhoneNumber,
		PhoneNumberArn: i.PhoneNumberArn, PhoneNumberId: i.PhoneNumberId, RegistrationId: i.RegistrationId,
		SelfManagedOptOutsEnabled: i.SelfManagedOptOutsEnabled, Status: i.Status,
		TwoWayChannelArn: i.TwoWayChannelArn, TwoWayChannelRole: i.TwoWayChannelRole, TwoWayEnabled: i.TwoWayEnabled,
	}, nil
}

// ReleasePhoneNumber gives a number up; deletion protection and pool
// membership forbid it.
func (s *Service) ReleasePhoneNumber(ctx context.Context, in *sv.ReleasePhoneNumberRequest) (*sv.ReleasePhoneNumberResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var n *numberRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if n, err = s.getNumber(ctx, tx, accountID, str(in.PhoneNumberId)); err != nil {
			return err
		}
		if n.DeletionProtection {
			return conflict(sv.ConflictExceptionReasonDeletionProtectionEnabled, sv.ResourceTypePhoneNumber, n.ID, "Phone number %s has deletion protection enabled", n.ID)
		}
		if n.PoolID != "" {
			return conflict(sv.ConflictExceptionReasonPhoneNumberAssociatedToPool, sv.ResourceTypePhoneNumber, n.ID, "Phone number %s belongs to pool %s; disassociate it first", n.ID, n.PoolID)
		}
		return tx.Delete(ctx, accountID, KindPhoneNumber, n.ID)
	})
	if err != nil {
		return nil, err
	}
	i := n.info()
	return &sv.ReleasePhoneNumberResult{
		CreatedTimestamp: i.CreatedTimestamp, IsoCountryCode: i.IsoCountryCode, MessageType: i.MessageType,
		MonthlyLeasingPrice: i.MonthlyLeasingPrice, NumberCapabilities: i.NumberCapabilities, NumberType: i.NumberType,
		OptOutListName: i.OptOutListName, PhoneNumber: i.PhoneNumber, PhoneNumberArn: i.PhoneNumberArn,
		PhoneNumberId: i.PhoneNumberId, RegistrationId: i.RegistrationId, SelfManagedOptOutsEnabled: i.SelfManagedOptOutsEnabled,
		Status: ptr(sv.NumberStatusDeleted), TwoWayChannelArn: i.TwoWayChannelArn, TwoWayChannelRole: i.TwoWayChannelRole,
		TwoWayEnabled: i.TwoWayEnabled,
	}, nil
}
