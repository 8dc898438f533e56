package sending

import (
	"context"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/ses"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/model/smithy"
)

// SES v1's configuration sets and identity attributes: the same records
// as SES v2's, in v1's shapes and spellings. A set made with one API is
// seen by the other; what v1 cannot express (an EventBridge destination)
// is left out of its answers.

// v1EventTypes maps v1's event type names to v2's.
var v1EventTypes = map[ses.EventType]sesv2.EventType{
	"send": sesv2.EventTypeSend, "reject": sesv2.EventTypeReject, "bounce": sesv2.EventTypeBounce,
	"complaint": sesv2.EventTypeComplaint, "delivery": sesv2.EventTypeDelivery, "open": sesv2.EventTypeOpen,
	"click": sesv2.EventTypeClick, "renderingFailure": sesv2.EventTypeRenderingFailure,
}

var v1Dimensions = map[ses.DimensionValueSource]sesv2.DimensionValueSource{
	ses.DimensionValueSourceMessageTag:  sesv2.DimensionValueSourceMessageTag,
	ses.DimensionValueSourceEmailHeader: sesv2.DimensionValueSourceEmailHeader,
	ses.DimensionValueSourceLinkTag:     sesv2.DimensionValueSourceLinkTag,
}

// v2Destination is the v2 definition of v1 event destination d.
func v2Destination(d *ses.EventDestination) (string, *sesv2.EventDestinationDefinition, error) {
	if d == nil {
		return "", nil, fault.Invalidf("EventDestination is required")
	}
	def := &sesv2.EventDestinationDefinition{Enabled: d.Enabled}
	for _, t := range d.MatchingEventTypes {
		v2, ok := v1EventTypes[t]
		if !ok {
			return "", nil, fault.Invalidf("Invalid event type %q", t)
		}
		def.MatchingEventTypes = append(def.MatchingEventTypes, v2)
	}
	if d.SNSDestination != nil {
		def.SnsDestination = &sesv2.SnsDestination{TopicArn: d.SNSDestination.TopicARN}
	}
	if d.KinesisFirehoseDestination != nil {
		def.KinesisFirehoseDestination = &sesv2.KinesisFirehoseDestination{
			DeliveryStreamArn: d.KinesisFirehoseDestination.DeliveryStreamARN, IamRoleArn: d.KinesisFirehoseDestination.IAMRoleARN}
	}
	if d.CloudWatchDestination != nil {
		cw := &sesv2.CloudWatchDestination{DimensionConfigurations: []sesv2.CloudWatchDimensionConfiguration{}}
		for _, c := range d.CloudWatchDestination.DimensionConfigurations {
			src, ok := v1Dimensions[deref(c.DimensionValueSource)]
			if !ok {
				return "", nil, fault.Invalidf("Invalid DimensionValueSource %q", deref(c.DimensionValueSource))
			}
			cw.DimensionConfigurations = append(cw.DimensionConfigurations, sesv2.CloudWatchDimensionConfiguration{
				DefaultDimensionValue: c.DefaultDimensionValue, DimensionName: c.DimensionName, DimensionValueSource: &src})
		}
		def.CloudWatchDestination = cw
	}
	return str(d.Name), def, nil
}

// v1EventDestination is v2 destination d in v1's shape; false when v1 has no
// shape for it (EventBridge, Pinpoint).
func v1EventDestination(d sesv2.EventDestination) (ses.EventDestination, bool) {
	out := ses.EventDestination{Name: d.Name, Enabled: ptr(deref(d.Enabled)), MatchingEventTypes: []ses.EventType{}}
	for _, t := range d.MatchingEventTypes {
		for v1, v2 := range v1EventTypes {
			if v2 == t {
				out.MatchingEventTypes = append(out.MatchingEventTypes, v1)
			}
		}
	}
	switch {
	case d.SnsDestination != nil:
		out.SNSDestination = &ses.SNSDestination{TopicARN: d.SnsDestination.TopicArn}
	case d.KinesisFirehoseDestination != nil:
		out.KinesisFirehoseDestination = &ses.KinesisFirehoseDestination{
			DeliveryStreamARN: d.KinesisFirehoseDestination.DeliveryStreamArn, IAMRoleARN: d.KinesisFirehoseDestination.IamRoleArn}
	case d.CloudWatchDestination != nil:
		cw := &ses.CloudWatchDestination{DimensionConfigurations: []ses.CloudWatchDimensionConfiguration{}}
		for _, c := range d.CloudWatchDestination.DimensionConfigurations {
			var src ses.DimensionValueSource
			for v1, v2 := range v1Dimensions {
				if c.DimensionValueSource != nil && v2 == *c.DimensionValueSource {
					src = v1
				}
			}
			cw.DimensionConfigurations = append(cw.DimensionConfigurations, ses.CloudWatchDimensionConfiguration{
				DefaultDimensionValue: c.DefaultDimensionValue, DimensionName: c.DimensionName, DimensionValueSource: &src})
		}
		out.CloudWatchDestination = cw
	default:
		return out, false
	}
	return out, true
}

// CreateConfigurationSetV1 is SES v1's CreateConfigurationSet.
func (s *Service) CreateConfigurationSetV1(ctx context.Context, in *ses.CreateConfigurationSetRequest) (*ses.CreateConfigurationSetResponse, error) {
	if in.ConfigurationSet == nil {
		return nil, fault.Invalidf("ConfigurationSet is required")
	}
	if _, err := s.CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetRequest{ConfigurationSetName: in.ConfigurationSet.Name}); err != nil {
		return nil, v1ConfigSetName(err)
	}
	return &ses.CreateConfigurationSetResponse{}, nil
}

// v1ConfigSetName turns v2's name check into v1's InvalidConfigurationSet.
func v1ConfigSetName(err error) error {
	if fault.Is(err, fault.Invalid) {
		return &fault.Error{Kind: fault.Invalid, Message: err.Error(), Reason: "InvalidConfigurationSet"}
	}
	return err
}

// DeleteConfigurationSetV1 is SES v1's DeleteConfigurationSet.
func (s *Service) DeleteConfigurationSetV1(ctx context.Context, in *ses.DeleteConfigurationSetRequest) (*ses.DeleteConfigurationSetResponse, error) {
	if _, err := s.DeleteConfigurationSet(ctx, &sesv2.DeleteConfigurationSetRequest{ConfigurationSetName: in.ConfigurationSetName}); err != nil {
		return nil, err
	}
	return &ses.DeleteConfigurationSetResponse{}, nil
}

// ListConfigurationSetsV1 is SES v1's ListConfigurationSets.
func (s *Service) ListConfigurationSetsV1(ctx context.Context, in *ses.ListConfigurationSetsRequest) (*ses.ListConfigurationSetsResponse, error) {
	res, err := s.ListConfigurationSets(ctx, &sesv2.ListConfigurationSetsRequest{NextToken: in.NextToken, PageSize: in.MaxItems})
	if err != nil {
		return nil, err
	}
	out := &ses.ListConfigurationSetsResponse{ConfigurationSets: []ses.ConfigurationSet{}, NextToken: res.NextToken}
	for _, n := range res.ConfigurationSets {
		out.ConfigurationSets = append(out.ConfigurationSets, ses.ConfigurationSet{Name: ptr(n)})
	}
	return out, nil
}

// DescribeConfigurationSet returns a set and the attributes asked for.
func (s *Service) DescribeConfigurationSet(ctx context.Context, in *ses.DescribeConfigurationSetRequest) (*ses.DescribeConfigurationSetResponse, error) {
	c, err := s.callerConfigSet(ctx, str(in.ConfigurationSetName))
	if err != nil {
		return nil, err
	}
	out := &ses.DescribeConfigurationSetResponse{ConfigurationSet: &ses.ConfigurationSet{Name: in.ConfigurationSetName}}
	for _, a := range in.ConfigurationSetAttributeNames {
		switch a {
		case ses.ConfigurationSetAttributeEventDestinations:
			out.EventDestinations = []ses.EventDestination{}
			for _, d := range c.Destinations {
				if v1, ok := v1EventDestination(d); ok {
					out.EventDestinations = append(out.EventDestinations, v1)
				}
			}
		case ses.ConfigurationSetAttributeTrackingOptions:
			if c.TrackingOptions != nil {
				out.TrackingOptions = &ses.TrackingOptions{CustomRedirectDomain: c.TrackingOptions.CustomRedirectDomain}
			}
		case ses.ConfigurationSetAttributeDeliveryOptions:
			policy := ses.TlsPolicyOptional
			if c.DeliveryOptions != nil && c.DeliveryOptions.TlsPolicy != nil && *c.DeliveryOptions.TlsPolicy == sesv2.TlsPolicyRequire {
				policy = ses.TlsPolicyRequire
			}
			out.DeliveryOptions = &ses.DeliveryOptions{TlsPolicy: &policy}
		case ses.ConfigurationSetAttributeReputationOptions:
			out.ReputationOptions = &ses.ReputationOptions{SendingEnabled: ptr(!c.SendingPaused),
				ReputationMetricsEnabled: ptr(c.ReputationOptions != nil && deref(c.ReputationOptions.ReputationMetricsEnabled))}
		}
	}
	return out, nil
}

// CreateConfigurationSetEventDestinationV1 is SES v1's
// CreateConfigurationSetEventDestination.
func (s *Service) CreateConfigurationSetEventDestinationV1(ctx context.Context, in *ses.CreateConfigurationSetEventDestinationRequest) (*ses.CreateConfigurationSetEventDestinationResponse, error) {
	name, def, err := v2Destination(in.EventDestination)
	if err != nil {
		return nil, err
	}
	_, err = s.CreateConfigurationSetEventDestination(ctx, &sesv2.CreateConfigurationSetEventDestinationRequest{
		ConfigurationSetName: in.ConfigurationSetName, EventDestinationName: &name, EventDestination: def})
	if err != nil {
		return nil, err
	}
	return &ses.CreateConfigurationSetEventDestinationResponse{}, nil
}

// UpdateConfigurationSetEventDestinationV1 is SES v1's
// UpdateConfigurationSetEventDestination.
func (s *Service) UpdateConfigurationSetEventDestinationV1(ctx context.Context, in *ses.UpdateConfigurationSetEventDestinationRequest) (*ses.UpdateConfigurationSetEventDestinationResponse, error) {
	name, def, err := v2Destination(in.EventDestination)
	if err != nil {
		return nil, err
	}
	_, err = s.UpdateConfigurationSetEventDestination(ctx, &sesv2.UpdateConfigurationSetEventDestinationRequest{
		ConfigurationSetName: in.ConfigurationSetName, EventDestinationName: &name, EventDestination: def})
	if err != nil {
		return nil, err
	}
	return &ses.UpdateConfigurationSetEventDestinationResponse{}, nil
}

// DeleteConfigurationSetEventDestinationV1 is SES v1's
// DeleteConfigurationSetEventDestination.
func (s *Service) DeleteConfigurationSetEventDestinationV1(ctx context.Context, in *ses.DeleteConfigurationSetEventDestinationRequest) (*ses.DeleteConfigurationSetEventDestinationResponse, error) {
	_, err := s.DeleteConfigurationSetEventDestination(ctx, &sesv2.DeleteConfigurationSetEventDestinationRequest{
		ConfigurationSetName: in.ConfigurationSetName, EventDestinationName: in.EventDestinationName})
	if err != nil {
		return nil, err
	}
	return &ses.DeleteConfigurationSetEventDestinationResponse{}, nil
}

// UpdateConfigurationSetSendingEnabled pauses or resumes sending with a set.
func (s *Service) UpdateConfigurationSetSendingEnabled(ctx context.Context, in *ses.UpdateConfigurationSetSendingEnabledRequest) (*struct{}, error) {
	_, err := s.PutConfigurationSetSendingOptions(ctx, &sesv2.PutConfigurationSetSendingOptionsRequest{
		ConfigurationSetName: in.ConfigurationSetName, SendingEnabled: ptr(deref(in.Enabled))})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// UpdateConfigurationSetReputationMetricsEnabled records whether
// reputation metrics are kept for a set.
func (s *Service) UpdateConfigurationSetReputationMetricsEnabled(ctx context.Context, in *ses.UpdateConfigurationSetReputationMetricsEnabledRequest) (*struct{}, error) {
	_, err := s.PutConfigurationSetReputationOptions(ctx, &sesv2.PutConfigurationSetReputationOptionsRequest{
		ConfigurationSetName: in.ConfigurationSetName, ReputationMetricsEnabled: ptr(deref(in.Enabled))})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// PutConfigurationSetDeliveryOptionsV1 sets a set's TLS policy (v1 has no
// maximum delivery time; one set with v2 is kept).
func (s *Service) PutConfigurationSetDeliveryOptionsV1(ctx context.Context, in *ses.PutConfigurationSetDeliveryOptionsRequest) (*ses.PutConfigurationSetDeliveryOptionsResponse, error) {
	policy := sesv2.TlsPolicyOptional
	if in.DeliveryOptions != nil && in.DeliveryOptions.TlsPolicy != nil && *in.DeliveryOptions.TlsPolicy == ses.TlsPolicyRequire {
		policy = sesv2.TlsPolicyRequire
	}
	err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		d := &sesv2.DeliveryOptions{}
		if c.DeliveryOptions != nil {
			*d = *c.DeliveryOptions
		}
		d.TlsPolicy = &policy
		c.DeliveryOptions = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ses.PutConfigurationSetDeliveryOptionsResponse{}, nil
}

// v1 tracking options: Create fails when the set has them, Update and
// Delete when it has none (TrackingOptionsAlreadyExistsException,
// TrackingOptionsDoesNotExistException).

func (s *Service) setTrackingV1(ctx context.Context, set *string, opts *ses.TrackingOptions, exists bool) error {
	name := str(set)
	var domain *string
	if opts != nil && opts.CustomRedirectDomain != nil {
		d := strings.TrimSpace(*opts.CustomRedirectDomain)
		if _, typ, err := normalizeIdentity(d); err != nil || typ != TypeDomain {
			return &fault.Error{Kind: fault.Invalid, Message: "Invalid CustomRedirectDomain " + d, Reason: "InvalidTrackingOptions"}
		}
		domain = &d
	}
	return s.updateConfigSet(ctx, name, func(c *configSetRecord) error {
		if has := c.TrackingOptions != nil; has != exists {
			if has {
				return &fault.Error{Kind: fault.Conflict, Message: "Configuration set " + name + " already has tracking options",
					ResourceType: "tracking-options", ResourceID: name}
			}
			return &fault.Error{Kind: fault.NotFound, Message: "Configuration set " + name + " has no tracking options",
				ResourceType: "tracking-options", ResourceID: name}
		}
		c.TrackingOptions = nil
		if domain != nil || opts != nil {
			c.TrackingOptions = &sesv2.TrackingOptions{CustomRedirectDomain: domain}
		}
		return nil
	})
}

// CreateConfigurationSetTrackingOptions sets a set's custom redirect
// domain for open and click tracking.
func (s *Service) CreateConfigurationSetTrackingOptions(ctx context.Context, in *ses.CreateConfigurationSetTrackingOptionsRequest) (*ses.CreateConfigurationSetTrackingOptionsResponse, error) {
	if err := s.setTrackingV1(ctx, in.ConfigurationSetName, in.TrackingOptions, false); err != nil {
		return nil, err
	}
	return &ses.CreateConfigurationSetTrackingOptionsResponse{}, nil
}

// UpdateConfigurationSetTrackingOptions changes a set's tracking options.
func (s *Service) UpdateConfigurationSetTrackingOptions(ctx context.Context, in *ses.UpdateConfigurationSetTrackingOptionsRequest) (*ses.UpdateConfigurationSetTrackingOptionsResponse, error) {
	if err := s.setTrackingV1(ctx, in.ConfigurationSetName, in.TrackingOptions, true); err != nil {
		return nil, err
	}
	return &ses.UpdateConfigurationSetTrackingOptionsResponse{}, nil
}

// DeleteConfigurationSetTrackingOptions removes a set's tracking options.
func (s *Service) DeleteConfigurationSetTrackingOptions(ctx context.Context, in *ses.DeleteConfigurationSetTrackingOptionsRequest) (*ses.DeleteConfigurationSetTrackingOptionsResponse, error) {
	name := str(in.ConfigurationSetName)
	err := s.updateConfigSet(ctx, name, func(c *configSetRecord) error {
		if c.TrackingOptions == nil {
			return &fault.Error{Kind: fault.NotFound, Message: "Configuration set " + name + " has no tracking options",
				ResourceType: "tracking-options", ResourceID: name}
		}
		c.TrackingOptions = nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ses.DeleteConfigurationSetTrackingOptionsResponse{}, nil
}

// SetIdentityDkimEnabled turns DKIM signing of an identity on or off.
func (s *Service) SetIdentityDkimEnabled(ctx context.Context, in *ses.SetIdentityDkimEnabledRequest) (*ses.SetIdentityDkimEnabledResponse, error) {
	_, err := s.PutEmailIdentityDkimAttributes(ctx, &sesv2.PutEmailIdentityDkimAttributesRequest{
		EmailIdentity: in.Identity, SigningEnabled: ptr(deref(in.DkimEnabled))})
	if err != nil {
		return nil, err
	}
	return &ses.SetIdentityDkimEnabledResponse{}, nil
}

// SetIdentityMailFromDomain sets (or, with none, removes) an identity's
// custom MAIL FROM domain.
func (s *Service) SetIdentityMailFromDomain(ctx context.Context, in *ses.SetIdentityMailFromDomainRequest) (*ses.SetIdentityMailFromDomainResponse, error) {
	req := &sesv2.PutEmailIdentityMailFromAttributesRequest{EmailIdentity: in.Identity, MailFromDomain: in.MailFromDomain}
	if deref(in.BehaviorOnMXFailure) == ses.BehaviorOnMXFailureRejectMessage {
		req.BehaviorOnMxFailure = ptr(sesv2.BehaviorOnMxFailureRejectMessage)
	}
	if _, err := s.PutEmailIdentityMailFromAttributes(ctx, req); err != nil {
		return nil, err
	}
	return &ses.SetIdentityMailFromDomainResponse{}, nil
}

// GetIdentityMailFromDomainAttributes returns the custom MAIL FROM domain
// of each identity named that has one.
func (s *Service) GetIdentityMailFromDomainAttributes(ctx context.Context, in *ses.GetIdentityMailFromDomainAttributesRequest) (*ses.GetIdentityMailFromDomainAttributesResponse, error) {
	out := &ses.GetIdentityMailFromDomainAttributesResponse{MailFromDomainAttributes: map[string]ses.IdentityMailFromDomainAttributes{}}
	err := s.eachIdentity(ctx, in.Identities, func(name string, rec *identityRecord) {
		behavior := ses.BehaviorOnMXFailureUseDefaultValue
		if rec.MailFromBehavior == string(sesv2.BehaviorOnMxFailureRejectMessage) {
			behavior = ses.BehaviorOnMXFailureRejectMessage
		}
		a := ses.IdentityMailFromDomainAttributes{MailFromDomain: ptr(rec.MailFromDomain), BehaviorOnMXFailure: &behavior}
		if rec.MailFromDomain != "" {
			a.MailFromDomainStatus = ptr(ses.CustomMailFromStatus(v1Status(rec.MailFromStatus)))
		}
		out.MailFromDomainAttributes[name] = a
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetIdentityFeedbackForwardingEnabled records whether bounces and
// complaints are forwarded by email.
func (s *Service) SetIdentityFeedbackForwardingEnabled(ctx context.Context, in *ses.SetIdentityFeedbackForwardingEnabledRequest) (*ses.SetIdentityFeedbackForwardingEnabledResponse, error) {
	_, err := s.PutEmailIdentityFeedbackAttributes(ctx, &sesv2.PutEmailIdentityFeedbackAttributesRequest{
		EmailIdentity: in.Identity, EmailForwardingEnabled: ptr(deref(in.ForwardingEnabled))})
	if err != nil {
		return nil, err
	}
	return &ses.SetIdentityFeedbackForwardingEnabledResponse{}, nil
}

// ListVerifiedEmailAddresses is SES's oldest listing: the verified
// address identities.
func (s *Service) ListVerifiedEmailAddresses(ctx context.Context, _ *struct{}) (*ses.ListVerifiedEmailAddressesResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	out := &ses.ListVerifiedEmailAddressesResponse{VerifiedEmailAddresses: []string{}}
	err = s.walkIdentities(ctx, acct, "", func(name string, rec *identityRecord) bool {
		if rec.Type == TypeEmail && rec.Status == StatusSuccess {
			out.VerifiedEmailAddresses = append(out.VerifiedEmailAddresses, name)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteVerifiedEmailAddress deletes an address identity.
func (s *Service) DeleteVerifiedEmailAddress(ctx context.Context, in *ses.DeleteVerifiedEmailAddressRequest) (*struct{}, error) {
	if _, err := s.DeleteIdentity(ctx, &ses.DeleteIdentityRequest{Identity: in.EmailAddress}); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// GetSendStatistics returns the account's sending of the last two weeks
// in 15-minute intervals, as SES: recipients attempted, bounces (at
// delivery, and hard bounces reported later) and complaints. Mail to the
// mailbox simulator and to suppressed addresses is not counted (SES: it
// does not count toward the bounce and complaint rates); Tidings rejects
// no message after accepting it, so Rejects is 0.
func (s *Service) GetSendStatistics(ctx context.Context, _ *struct{}) (*ses.GetSendStatisticsResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	stats, err := s.st.SendStatistics(ctx, acct, s.now().Add(-14*24*time.Hour))
	if err != nil {
		return nil, err
	}
	out := &ses.GetSendStatisticsResponse{SendDataPoints: []ses.SendDataPoint{}}
	for _, st := range stats {
		out.SendDataPoints = append(out.SendDataPoints, ses.SendDataPoint{Timestamp: smithy.NewTime(st.Start),
			DeliveryAttempts: ptr(st.Attempts), Bounces: ptr(st.Bounces), Complaints: ptr(st.Complaints), Rejects: ptr(int64(0))})
	}
	return out, nil
}
