package sms

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/smithy"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// Protect configurations: per channel (SMS, VOICE, MMS), a rule per
// destination country (ALLOW by default), and number overrides that take
// precedence. The protect configuration of a send is the one it names,
// else its configuration set's, else the account's default. A send to a
// country the rule set BLOCKs fails with ConflictException
// DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION; to a number a BLOCK
// override names, with DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE;
// an ALLOW override lets a number of a blocked country through. MONITOR
// and FILTER send (Tidings has no fraud scoring to filter with).

// protectRec is a protect configuration (the Body of a KindProtectConfig
// resource).
type protectRec struct {
	ID                 string            `json:"id"`
	ARN                string            `json:"arn"`
	DeletionProtection bool              `json:"deletionProtection,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	CreatedAt          time.Time         `json:"createdAt"`
	// Rules holds the countries whose status is not ALLOW, by capability
	// (SMS, VOICE, MMS) and ISO country code.
	Rules map[string]map[string]string `json:"rules,omitempty"`
}

func (p *protectRec) resource(accountID string) *Resource {
	return &Resource{AccountID: accountID, Kind: KindProtectConfig, ID: p.ID, Body: encode(p), CreatedAt: p.CreatedAt}
}

func (p *protectRec) info(accountDefault string) sv.ProtectConfigurationInformation {
	return sv.ProtectConfigurationInformation{AccountDefault: ptr(p.ID == accountDefault), CreatedTimestamp: smithy.NewTime(p.CreatedAt),
		DeletionProtectionEnabled: ptr(p.DeletionProtection), ProtectConfigurationArn: ptr(p.ARN), ProtectConfigurationId: ptr(p.ID)}
}

func (s *Service) getProtect(ctx context.Context, tx Tx, accountID, ref string) (*protectRec, error) {
	id := ref
	if typ, rest, ok := s.parseARN(accountID, ref); ok && typ == string(KindProtectConfig) {
		id = rest
	}
	r, err := tx.Get(ctx, accountID, KindProtectConfig, id)
	if err != nil {
		return nil, restype(err, sv.ResourceTypeProtectConfiguration, ref)
	}
	var p protectRec
	return &p, decode(r, &p)
}

// protectCapability is the rule set of a channel.
var protectCapability = map[Channel]string{ChannelText: "SMS", ChannelVoice: "VOICE", ChannelMedia: "MMS"}

// overrideRec is a number override (an entry "override/<E.164>" of a
// protect configuration).
type overrideRec struct {
	Number    string    `json:"number"`
	Action    string    `json:"action"`
	Country   string    `json:"country,omitempty"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	CreatedAt time.Time `json:"createdAt"`
}

const overridePrefix = "override/"

func (o *overrideRec) info() sv.ProtectConfigurationRuleSetNumberOverride {
	out := sv.ProtectConfigurationRuleSetNumberOverride{Action: ptr(sv.ProtectConfigurationRuleOverrideAction(o.Action)),
		CreatedTimestamp: smithy.NewTime(o.CreatedAt), DestinationPhoneNumber: ptr(o.Number)}
	if !o.ExpiresAt.IsZero() {
		out.ExpirationTimestamp = smithy.NewTime(o.ExpiresAt)
	}
	if o.Country != "" {
		out.IsoCountryCode = ptr(o.Country)
	}
	return out
}

// checkProtect applies the protect configuration of a send.
func (s *Service) checkProtect(ctx context.Context, tx Tx, accountID string, req sendRequest, cs *configSetRec, m *messageRec) error {
	ref := req.protectConfig
	if ref == "" && cs != nil {
		ref = cs.ProtectConfigID
	}
	if ref == "" {
		a, err := s.accountSettings(ctx, tx, accountID)
		if err != nil {
			return err
		}
		ref = a.DefaultProtectConfig
	}
	if ref == "" {
		return nil
	}
	p, err := s.getProtect(ctx, tx, accountID, ref)
	if err != nil {
		return err
	}
	e, err := tx.GetEntry(ctx, accountID, KindProtectConfig, p.ID, overridePrefix+m.Destination)
	switch {
	case err == nil:
		var o overrideRec
		if err := decodeEntry(e, &o); err != nil {
			return err
		}
		if o.ExpiresAt.IsZero() || s.now().Before(o.ExpiresAt) {
			if o.Action == string(sv.ProtectConfigurationRuleOverrideActionBlock) {
				return conflict(sv.ConflictExceptionReasonDestinationPhoneNumberBlockedByProtectNumberOverride, sv.ResourceTypeProtectConfiguration, p.ID,
					"Protect configuration %s blocks %s", p.ID, m.Destination)
			}
			return nil // ALLOW: the country rules do not apply
		}
	case !fault.Is(err, fault.NotFound):
		return err
	}
	if p.Rules[protectCapability[m.Channel]][m.Country] == string(sv.ProtectStatusBlock) {
		return conflict(sv.ConflictExceptionReasonDestinationCountryBlockedByProtectConfiguration, sv.ResourceTypeProtectConfiguration, p.ID,
			"Protect configuration %s blocks %s messages to %s", p.ID, protectCapability[m.Channel], m.Country)
	}
	return nil
}

func decodeEntry(e *Entry, v any) error {
	return decode(&Resource{Kind: "entry", ID: e.Key, Body: e.Body}, v)
}

// CreateProtectConfiguration makes a protect configuration that allows
// every country.
func (s *Service) CreateProtectConfiguration(ctx context.Context, in *sv.CreateProtectConfigurationRequest) (*sv.CreateProtectConfigurationResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	p := &protectRec{ID: newID("protect-"), DeletionProtection: boolv(in.DeletionProtectionEnabled), Tags: tags, CreatedAt: s.now()}
	p.ARN = s.arn(accountID, string(KindProtectConfig)+"/"+p.ID)
	if err := s.store.InTx(ctx, func(tx Tx) error { return tx.Insert(ctx, p.resource(accountID)) }); err != nil {
		return nil, err
	}
	return &sv.CreateProtectConfigurationResult{AccountDefault: ptr(false), CreatedTimestamp: smithy.NewTime(p.CreatedAt),
		DeletionProtectionEnabled: ptr(p.DeletionProtection), ProtectConfigurationArn: ptr(p.ARN), ProtectConfigurationId: ptr(p.ID),
		Tags: tagList(p.Tags)}, nil
}

// DescribeProtectConfigurations lists protect configurations.
func (s *Service) DescribeProtectConfigurations(ctx context.Context, in *sv.DescribeProtectConfigurationsRequest) (*sv.DescribeProtectConfigurationsResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := filterMap(in.Filters, func(f sv.ProtectConfigurationFilter) string { return string(*f.Name) },
		func(f sv.ProtectConfigurationFilter) []string { return f.Values },
		func(n string) bool {
			return n == string(sv.ProtectConfigurationFilterNameAccountDefault) || n == string(sv.ProtectConfigurationFilterNameDeletionProtectionEnabled)
		})
	if err != nil {
		return nil, err
	}
	a, err := s.readAccountSettings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	def := a.DefaultProtectConfig
	keep := func(p *protectRec) bool {
		return matches(filters, func(name string) []string {
			if name == string(sv.ProtectConfigurationFilterNameAccountDefault) {
				return []string{strconv.FormatBool(p.ID == def)}
			}
			return []string{strconv.FormatBool(p.DeletionProtection)}
		})
	}
	list, next, err := describe(ctx, s, accountID, KindProtectConfig, len(in.ProtectConfigurationIds), func(tx Tx, i int) (*protectRec, error) {
		return s.getProtect(ctx, tx, accountID, in.ProtectConfigurationIds[i])
	}, keep, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &sv.DescribeProtectConfigurationsResult{ProtectConfigurations: infos(list, func(p *protectRec) sv.ProtectConfigurationInformation { return p.info(def) }),
		NextToken: next}, nil
}

// updateProtect loads, changes and stores a protect configuration; it
// returns the record and the account's default protect configuration.
func (s *Service) updateProtect(ctx context.Context, ref string, change func(tx Tx, accountID string, p *protectRec, a *accountRec) error) (*protectRec, string, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, "", err
	}
	var (
		p *protectRec
		a *accountRec
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getProtect(ctx, tx, accountID, ref); err != nil {
			return err
		}
		if a, err = s.accountSettings(ctx, tx, accountID); err != nil {
			return err
		}
		if err := change(tx, accountID, p, a); err != nil {
			return err
		}
		return tx.Update(ctx, p.resource(accountID))
	})
	if err != nil {
		return nil, "", err
	}
	return p, a.DefaultProtectConfig, nil
}

// UpdateProtectConfiguration changes a protect configuration's deletion
// protection.
func (s *Service) UpdateProtectConfiguration(ctx context.Context, in *sv.UpdateProtectConfigurationRequest) (*sv.UpdateProtectConfigurationResult, error) {
	p, def, err := s.updateProtect(ctx, str(in.ProtectConfigurationId), func(_ Tx, _ string, p *protectRec, _ *accountRec) error {
		if in.DeletionProtectionEnabled != nil {
			p.DeletionProtection = *in.DeletionProtectionEnabled
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	i := p.info(def)
	return &sv.UpdateProtectConfigurationResult{AccountDefault: i.AccountDefault, CreatedTimestamp: i.CreatedTimestamp,
		DeletionProtectionEnabled: i.DeletionProtectionEnabled, ProtectConfigurationArn: i.ProtectConfigurationArn, ProtectConfigurationId: i.ProtectConfigurationId}, nil
}

// DeleteProtectConfiguration deletes a protect configuration (and its
// number overrides) unless it is protected, the account's default or
// associated with a configuration set.
func (s *Service) DeleteProtectConfiguration(ctx context.Context, in *sv.DeleteProtectConfigurationRequest) (*sv.DeleteProtectConfigurationResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var p *protectRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getProtect(ctx, tx, accountID, str(in.ProtectConfigurationId)); err != nil {
			return err
		}
		if p.DeletionProtection {
			return conflict(sv.ConflictExceptionReasonDeletionProtectionEnabled, sv.ResourceTypeProtectConfiguration, p.ID, "Protect configuration %s has deletion protection enabled", p.ID)
		}
		a, err := s.accountSettings(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if a.DefaultProtectConfig == p.ID {
			return conflict(sv.ConflictExceptionReasonProtectConfigurationIsAccountDefault, sv.ResourceTypeProtectConfiguration, p.ID, "Protect configuration %s is the account's default", p.ID)
		}
		err = eachResource(ctx, tx, accountID, KindConfigurationSet, func(r *Resource) error {
			var c configSetRec
			if err := decode(r, &c); err != nil {
				return err
			}
			if c.ProtectConfigID == p.ID {
				return conflict(sv.ConflictExceptionReasonProtectConfigurationAssociatedWithConfigurationSet, sv.ResourceTypeProtectConfiguration, p.ID,
					"Protect configuration %s is associated with configuration set %s", p.ID, c.Name)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Delete(ctx, accountID, KindProtectConfig, p.ID)
	})
	if err != nil {
		return nil, err
	}
	i := p.info("")
	return &sv.DeleteProtectConfigurationResult{AccountDefault: i.AccountDefault, CreatedTimestamp: i.CreatedTimestamp,
		DeletionProtectionEnabled: i.DeletionProtectionEnabled, ProtectConfigurationArn: i.ProtectConfigurationArn, ProtectConfigurationId: i.ProtectConfigurationId}, nil
}

// SetAccountDefaultProtectConfiguration makes a protect configuration the
// one of every send that names none and whose configuration set has none.
func (s *Service) SetAccountDefaultProtectConfiguration(ctx context.Context, in *sv.SetAccountDefaultProtectConfigurationRequest) (*sv.SetAccountDefaultProtectConfigurationResult, error) {
	p, _, err := s.updateProtect(ctx, str(in.ProtectConfigurationId), func(tx Tx, accountID string, p *protectRec, a *accountRec) error {
		a.DefaultProtectConfig = p.ID
		return s.putAccountSettings(ctx, tx, accountID, a)
	})
	if err != nil {
		return nil, err
	}
	return &sv.SetAccountDefaultProtectConfigurationResult{DefaultProtectConfigurationArn: ptr(p.ARN), DefaultProtectConfigurationId: ptr(p.ID)}, nil
}

// DeleteAccountDefaultProtectConfiguration clears the account's default.
func (s *Service) DeleteAccountDefaultProtectConfiguration(ctx context.Context, _ *sv.DeleteAccountDefaultProtectConfigurationRequest) (*sv.DeleteAccountDefaultProtectConfigurationResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var id string
	err = s.store.InTx(ctx, func(tx Tx) error {
		a, err := s.accountSettings(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if a.DefaultProtectConfig == "" {
			return notFound(sv.ResourceTypeProtectConfiguration, "", "The account has no default protect configuration")
		}
		id, a.DefaultProtectConfig = a.DefaultProtectConfig, ""
		return s.putAccountSettings(ctx, tx, accountID, a)
	})
	if err != nil {
		return nil, err
	}
	return &sv.DeleteAccountDefaultProtectConfigurationResult{DefaultProtectConfigurationArn: ptr(s.arn(accountID, string(KindProtectConfig)+"/"+id)),
		DefaultProtectConfigurationId: ptr(id)}, nil
}

func ruleCapability(c *sv.NumberCapability) (string, error) {
	switch *c {
	case sv.NumberCapabilitySms, sv.NumberCapabilityVoice, sv.NumberCapabilityMms:
		return string(*c), nil
	}
	return "", invalid(sv.ValidationExceptionReasonInvalidParameter, "Protect configurations have rule sets for SMS, VOICE and MMS, not %s", *c)
}

// countryRuleSet is every country with its status for a capability.
func (p *protectRec) countryRuleSet(capability string) map[string]sv.ProtectConfigurationCountryRuleSetInformation {
	out := map[string]sv.ProtectConfigurationCountryRuleSetInformation{}
	for cc := range phonenumbers.GetSupportedRegions() {
		st := sv.ProtectStatusAllow
		if v, ok := p.Rules[capability][cc]; ok {
			st = sv.ProtectStatus(v)
		}
		out[cc] = sv.ProtectConfigurationCountryRuleSetInformation{ProtectStatus: ptr(st)}
	}
	return out
}

// GetProtectConfigurationCountryRuleSet returns a capability's rule of
// every country.
func (s *Service) GetProtectConfigurationCountryRuleSet(ctx context.Context, in *sv.GetProtectConfigurationCountryRuleSetRequest) (*sv.GetProtectConfigurationCountryRuleSetResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	capability, err := ruleCapability(in.NumberCapability)
	if err != nil {
		return nil, err
	}
	var p *protectRec
	if err := s.store.InTx(ctx, func(tx Tx) error {
		p, err = s.getProtect(ctx, tx, accountID, str(in.ProtectConfigurationId))
		return err
	}); err != nil {
		return nil, err
	}
	return &sv.GetProtectConfigurationCountryRuleSetResult{CountryRuleSet: p.countryRuleSet(capability), NumberCapability: in.NumberCapability,
		ProtectConfigurationArn: ptr(p.ARN), ProtectConfigurationId: ptr(p.ID)}, nil
}

// UpdateProtectConfigurationCountryRuleSet changes the rules of countries.
func (s *Service) UpdateProtectConfigurationCountryRuleSet(ctx context.Context, in *sv.UpdateProtectConfigurationCountryRuleSetRequest) (*sv.UpdateProtectConfigurationCountryRuleSetResult, error) {
	capability, err := ruleCapability(in.NumberCapability)
	if err != nil {
		return nil, err
	}
	supported := phonenumbers.GetSupportedRegions()
	for cc, r := range in.CountryRuleSetUpdates {
		if _, ok := supported[cc]; !ok {
			return nil, invalid(sv.ValidationExceptionReasonInvalidParameter, "%q is not an ISO 3166-1 alpha-2 country code", cc)
		}
		if r.ProtectStatus == nil {
			return nil, invalid(sv.ValidationExceptionReasonMissingParameter, "The rule of %s has no ProtectStatus", cc)
		}
	}
	p, _, err := s.updateProtect(ctx, str(in.ProtectConfigurationId), func(_ Tx, _ string, p *protectRec, _ *accountRec) error {
		if p.Rules == nil {
			p.Rules = map[string]map[string]string{}
		}
		if p.Rules[capability] == nil {
			p.Rules[capability] = map[string]string{}
		}
		for cc, r := range in.CountryRuleSetUpdates {
			if *r.ProtectStatus == sv.ProtectStatusAllow {
				delete(p.Rules[capability], cc)
			} else {
				p.Rules[capability][cc] = string(*r.ProtectStatus)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.UpdateProtectConfigurationCountryRuleSetResult{CountryRuleSet: p.countryRuleSet(capability), NumberCapability: in.NumberCapability,
		ProtectConfigurationArn: ptr(p.ARN), ProtectConfigurationId: ptr(p.ID)}, nil
}

// AssociateProtectConfiguration gives a configuration set a protect
// configuration.
func (s *Service) AssociateProtectConfiguration(ctx context.Context, in *sv.AssociateProtectConfigurationRequest) (*sv.AssociateProtectConfigurationResult, error) {
	var p *protectRec
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(tx Tx, accountID string, c *configSetRec) error {
		var err error
		if p, err = s.getProtect(ctx, tx, accountID, str(in.ProtectConfigurationId)); err != nil {
			return err
		}
		if c.ProtectConfigID != "" {
			return conflict(sv.ConflictExceptionReasonResourceAlreadyAssociated, sv.ResourceTypeConfigurationSet, c.Name,
				"Configuration set %s has protect configuration %s already", c.Name, c.ProtectConfigID)
		}
		c.ProtectConfigID = p.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.AssociateProtectConfigurationResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name),
		ProtectConfigurationArn: ptr(p.ARN), ProtectConfigurationId: ptr(p.ID)}, nil
}

// DisassociateProtectConfiguration takes a configuration set's protect
// configuration away.
func (s *Service) DisassociateProtectConfiguration(ctx context.Context, in *sv.DisassociateProtectConfigurationRequest) (*sv.DisassociateProtectConfigurationResult, error) {
	var p *protectRec
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(tx Tx, accountID string, c *configSetRec) error {
		var err error
		if p, err = s.getProtect(ctx, tx, accountID, str(in.ProtectConfigurationId)); err != nil {
			return err
		}
		if c.ProtectConfigID != p.ID {
			return conflict(sv.ConflictExceptionReasonProtectConfigurationNotAssociatedWithConfigurationSet, sv.ResourceTypeProtectConfiguration, p.ID,
				"Protect configuration %s is not associated with configuration set %s", p.ID, c.Name)
		}
		c.ProtectConfigID = ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.DisassociateProtectConfigurationResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name),
		ProtectConfigurationArn: ptr(p.ARN), ProtectConfigurationId: ptr(p.ID)}, nil
}

// PutProtectConfigurationRuleSetNumberOverride allows or blocks one
// destination number, until ExpirationTimestamp when given.
func (s *Service) PutProtectConfigurationRuleSetNumberOverride(ctx context.Context, in *sv.PutProtectConfigurationRuleSetNumberOverrideRequest) (*sv.PutProtectConfigurationRuleSetNumberOverrideResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	number, country, err := parseNumber(str(in.DestinationPhoneNumber))
	if err != nil {
		return nil, err
	}
	o := &overrideRec{Number: number, Action: string(*in.Action), Country: country, CreatedAt: s.now()}
	if in.ExpirationTimestamp != nil {
		o.ExpiresAt = in.ExpirationTimestamp.UTC()
		if !o.ExpiresAt.After(s.now()) {
			return nil, invalid(sv.ValidationExceptionReasonInvalidParameter, "ExpirationTimestamp is in the past")
		}
	}
	var p *protectRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getProtect(ctx, tx, accountID, str(in.ProtectConfigurationId)); err != nil {
			return err
		}
		e := &Entry{Key: overridePrefix + number, Body: encode(o), CreatedAt: o.CreatedAt, UpdatedAt: o.CreatedAt}
		if err := tx.PutEntry(ctx, accountID, KindProtectConfig, p.ID, e); err != nil {
			return err
		}
		o.CreatedAt = e.CreatedAt
		return nil
	})
	if err != nil {
		return nil, err
	}
	i := o.info()
	return &sv.PutProtectConfigurationRuleSetNumberOverrideResult{Action: i.Action, CreatedTimestamp: i.CreatedTimestamp,
		DestinationPhoneNumber: i.DestinationPhoneNumber, ExpirationTimestamp: i.ExpirationTimestamp, IsoCountryCode: i.IsoCountryCode,
		ProtectConfigurationArn: ptr(p.ARN), ProtectConfigurationId: ptr(p.ID)}, nil
}

// DeleteProtectConfigurationRuleSetNumberOverride removes a number override.
func (s *Service) DeleteProtectConfigurationRuleSetNumberOverride(ctx context.Context, in *sv.DeleteProtectConfigurationRuleSetNumberOverrideRequest) (*sv.DeleteProtectConfigurationRuleSetNumberOverrideResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	number := str(in.DestinationPhoneNumber)
	var (
		p *protectRec
		o overrideRec
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getProtect(ctx, tx, accountID, str(in.ProtectConfigurationId)); err != nil {
			return err
		}
		e, err := tx.GetEntry(ctx, accountID, KindProtectConfig, p.ID, overridePrefix+number)
		if err != nil {
			return restype(err, sv.ResourceTypeProtectConfiguration, number)
		}
		o.CreatedAt = e.CreatedAt
		if err := decodeEntry(e, &o); err != nil {
			return err
		}
		return tx.DeleteEntry(ctx, accountID, KindProtectConfig, p.ID, e.Key)
	})
	if err != nil {
		return nil, err
	}
	i := o.info()
	return &sv.DeleteProtectConfigurationRuleSetNumberOverrideResult{Action: i.Action, CreatedTimestamp: i.CreatedTimestamp,
		DestinationPhoneNumber: i.DestinationPhoneNumber, ExpirationTimestamp: i.ExpirationTimestamp, IsoCountryCode: i.IsoCountryCode,
		ProtectConfigurationArn: ptr(p.ARN), ProtectConfigurationId: ptr(p.ID)}, nil
}

// parseFilterTime reads a time filter value: RFC 3339, or epoch seconds.
func parseFilterTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return time.Time{}, invalid(sv.ValidationExceptionReasonInvalidFilterValues, "%q is not a time (RFC 3339 or epoch seconds)", v)
	}
	return time.UnixMilli(int64(f * 1000)).UTC(), nil
}

// overrideMatches applies ListProtectConfigurationRuleSetNumberOverrides
// filters: each filter's values are alternatives, filters all apply.
func overrideMatches(o *overrideRec, filters []sv.ProtectConfigurationRuleSetNumberOverrideFilterItem) (bool, error) {
	for _, f := range filters {
		ok := false
		for _, v := range f.Values {
			switch *f.Name {
			case sv.ProtectConfigurationRuleSetNumberOverrideFilterNameIsoCountryCode:
				ok = ok || strings.EqualFold(o.Country, v)
			case sv.ProtectConfigurationRuleSetNumberOverrideFilterNameDestinationPhoneNumberBeginsWith:
				ok = ok || strings.HasPrefix(o.Number, v)
			case sv.ProtectConfigurationRuleSetNumberOverrideFilterNameAction:
				ok = ok || strings.EqualFold(o.Action, v)
			default:
				t, err := parseFilterTime(v)
				if err != nil {
					return false, err
				}
				switch *f.Name {
				case sv.ProtectConfigurationRuleSetNumberOverrideFilterNameExpiresBefore:
					ok = ok || (!o.ExpiresAt.IsZero() && o.ExpiresAt.Before(t))
				case sv.ProtectConfigurationRuleSetNumberOverrideFilterNameExpiresAfter:
					ok = ok || o.ExpiresAt.IsZero() || o.ExpiresAt.After(t)
				case sv.ProtectConfigurationRuleSetNumberOverrideFilterNameCreatedBefore:
					ok = ok || o.CreatedAt.Before(t)
				case sv.ProtectConfigurationRuleSetNumberOverrideFilterNameCreatedAfter:
					ok = ok || o.CreatedAt.After(t)
				default:
					return false, invalid(sv.ValidationExceptionReasonInvalidFilterValues, "Unknown filter %q", *f.Name)
				}
			}
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// ListProtectConfigurationRuleSetNumberOverrides lists number overrides in
// number order.
func (s *Service) ListProtectConfigurationRuleSetNumberOverrides(ctx context.Context, in *sv.ListProtectConfigurationRuleSetNumberOverridesRequest) (*sv.ListProtectConfigurationRuleSetNumberOverridesResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken("protect-overrides", in.NextToken)
	if err != nil {
		return nil, err
	}
	limit := pageSize(in.MaxResults, 50)
	var (
		p    *protectRec
		list []*overrideRec
		next *string
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if p, err = s.getProtect(ctx, tx, accountID, str(in.ProtectConfigurationId)); err != nil {
			return err
		}
		cur := after
		if cur != "" {
			cur = overridePrefix + cur
		}
		for {
			page, err := tx.ListEntries(ctx, accountID, KindProtectConfig, p.ID, overridePrefix, cur, 200)
			if err != nil {
				return err
			}
			for _, e := range page {
				o := &overrideRec{}
				if err := decodeEntry(e, o); err != nil {
					return err
				}
				o.CreatedAt = e.CreatedAt
				ok, err := overrideMatches(o, in.Filters)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				if len(list) == limit {
					next = encodeToken("protect-overrides", list[limit-1].Number)
					return nil
				}
				list = append(list, o)
			}
			if len(page) < 200 {
				return nil
			}
			cur = page[len(page)-1].Key
		}
	})
	if err != nil {
		return nil, err
	}
	out := &sv.ListProtectConfigurationRuleSetNumberOverridesResult{ProtectConfigurationArn: ptr(p.ARN), ProtectConfigurationId: ptr(p.ID),
		RuleSetNumberOverrides: infos(list, (*overrideRec).info), NextToken: next}
	return out, nil
}
