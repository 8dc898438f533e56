package sending

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
)

// configSetRecord is the JSON body of a configuration set; the options are
// kept in their API shapes.
type configSetRecord struct {
	SendingPaused      bool                      `json:"sending_paused,omitempty"`
	DeliveryOptions    *sesv2.DeliveryOptions    `json:"delivery_options,omitempty"`
	ReputationOptions  *sesv2.ReputationOptions  `json:"reputation_options,omitempty"`
	SuppressionOptions *sesv2.SuppressionOptions `json:"suppression_options,omitempty"`
	TrackingOptions    *sesv2.TrackingOptions    `json:"tracking_options,omitempty"`
	ArchivingOptions   *sesv2.ArchivingOptions   `json:"archiving_options,omitempty"`
	VdmOptions         *sesv2.VdmOptions         `json:"vdm_options,omitempty"`
	Tags               []sesv2.Tag               `json:"tags,omitempty"`
	Destinations       []sesv2.EventDestination  `json:"destinations,omitempty"`
}

// suppressedReasons returns the reasons that apply to messages of the set:
// its own SuppressionOptions when set, else the account's.
func (c *configSetRecord) suppressedReasons(acct *accountRecord) []string {
	if c == nil || c.SuppressionOptions == nil {
		return acct.reasons()
	}
	var out []string
	for _, r := range c.SuppressionOptions.SuppressedReasons {
		out = append(out, string(r))
	}
	return out
}

var configSetNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *Service) loadConfigSet(ctx context.Context, r Reader, acct, name string) (*configSetRecord, *Resource, error) {
	res, err := r.Get(ctx, acct, KindConfigSet, name)
	if err != nil {
		return nil, nil, err
	}
	var c configSetRecord
	return &c, res, json.Unmarshal(res.Body, &c)
}

// callerConfigSet reads the caller's configuration set name.
func (s *Service) callerConfigSet(ctx context.Context, name string) (*configSetRecord, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	c, _, err := s.loadConfigSet(ctx, s.st, acct, name)
	return c, err
}

// CreateConfigurationSet creates a configuration set.
func (s *Service) CreateConfigurationSet(ctx context.Context, in *sesv2.CreateConfigurationSetRequest) (*sesv2.CreateConfigurationSetResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	name := str(in.ConfigurationSetName)
	if !configSetNameRe.MatchString(name) {
		return nil, fault.Invalidf("Invalid configuration set name %q: use 1 to 64 letters, digits, underscores and dashes", name)
	}
	if err := CheckTags(in.Tags); err != nil {
		return nil, err
	}
	c := &configSetRecord{
		DeliveryOptions:    in.DeliveryOptions,
		ReputationOptions:  in.ReputationOptions,
		SuppressionOptions: in.SuppressionOptions,
		TrackingOptions:    in.TrackingOptions,
		ArchivingOptions:   in.ArchivingOptions,
		VdmOptions:         in.VdmOptions,
		Tags:               in.Tags,
	}
	if in.SendingOptions != nil && in.SendingOptions.SendingEnabled != nil {
		c.SendingPaused = !*in.SendingOptions.SendingEnabled
	}
	if err := checkDeliveryOptions(c.DeliveryOptions); err != nil {
		return nil, err
	}
	if c.ArchivingOptions != nil {
		if err := s.checkArchiving(ctx, acct, str(c.ArchivingOptions.ArchiveArn)); err != nil {
			return nil, err
		}
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	now := s.now()
	err = s.st.InTx(ctx, func(tx Tx) error {
		return tx.Insert(ctx, &Resource{AccountID: acct, Kind: KindConfigSet, Name: name, Body: body, CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.CreateConfigurationSetResponse{}, nil
}

func checkDeliveryOptions(d *sesv2.DeliveryOptions) error {
	if d != nil && d.MaxDeliverySeconds != nil && (*d.MaxDeliverySeconds < 300 || *d.MaxDeliverySeconds > 50400) {
		return fault.Invalidf("MaxDeliverySeconds must be between 300 and 50400")
	}
	return nil
}

// GetConfigurationSet describes a configuration set.
func (s *Service) GetConfigurationSet(ctx context.Context, in *sesv2.GetConfigurationSetRequest) (*sesv2.GetConfigurationSetResponse, error) {
	c, err := s.callerConfigSet(ctx, str(in.ConfigurationSetName))
	if err != nil {
		return nil, err
	}
	out := &sesv2.GetConfigurationSetResponse{
		ConfigurationSetName: in.ConfigurationSetName,
		DeliveryOptions:      c.DeliveryOptions,
		ReputationOptions:    c.ReputationOptions,
		SuppressionOptions:   c.SuppressionOptions,
		TrackingOptions:      c.TrackingOptions,
		ArchivingOptions:     c.ArchivingOptions,
		VdmOptions:           c.VdmOptions,
		SendingOptions:       &sesv2.SendingOptions{SendingEnabled: ptr(!c.SendingPaused)},
		Tags:                 c.Tags,
	}
	if out.DeliveryOptions == nil {
		out.DeliveryOptions = &sesv2.DeliveryOptions{TlsPolicy: ptr(sesv2.TlsPolicy("OPTIONAL"))}
	}
	if out.ReputationOptions == nil {
		out.ReputationOptions = &sesv2.ReputationOptions{ReputationMetricsEnabled: ptr(false)}
	}
	if out.Tags == nil {
		out.Tags = []sesv2.Tag{}
	}
	return out, nil
}

// ListConfigurationSets pages through the account's configuration sets.
func (s *Service) ListConfigurationSets(ctx context.Context, in *sesv2.ListConfigurationSetsRequest) (*sesv2.ListConfigurationSetsResponse, error) {
	acct, size, after, err := listArgs(ctx, in.PageSize, in.NextToken, 1000)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.List(ctx, acct, KindConfigSet, after, size+1)
	if err != nil {
		return nil, err
	}
	out := &sesv2.ListConfigurationSetsResponse{ConfigurationSets: []string{}}
	for i, r := range rows {
		if i == size {
			out.NextToken = ptr(encodeToken(rows[i-1].Name))
			break
		}
		out.ConfigurationSets = append(out.ConfigurationSets, r.Name)
	}
	return out, nil
}

// DeleteConfigurationSet deletes a configuration set with its event
// destinations.
func (s *Service) DeleteConfigurationSet(ctx context.Context, in *sesv2.DeleteConfigurationSetRequest) (*sesv2.DeleteConfigurationSetResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.st.InTx(ctx, func(tx Tx) error { return tx.Delete(ctx, acct, KindConfigSet, str(in.ConfigurationSetName)) }); err != nil {
		return nil, err
	}
	return &sesv2.DeleteConfigurationSetResponse{}, nil
}

func (s *Service) updateConfigSet(ctx context.Context, name string, fn func(c *configSetRecord) error) error {
	acct, err := account(ctx)
	if err != nil {
		return err
	}
	return s.st.InTx(ctx, func(tx Tx) error {
		c, res, err := s.loadConfigSet(ctx, tx, acct, name)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		body, err := json.Marshal(c)
		if err != nil {
			return err
		}
		res.Body, res.UpdatedAt = body, s.now()
		return tx.Put(ctx, res)
	})
}

// PutConfigurationSetSendingOptions pauses or resumes sending with a set.
func (s *Service) PutConfigurationSetSendingOptions(ctx context.Context, in *sesv2.PutConfigurationSetSendingOptionsRequest) (*sesv2.PutConfigurationSetSendingOptionsResponse, error) {
	err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		c.SendingPaused = in.SendingEnabled != nil && !*in.SendingEnabled
		return nil
	})
	return &sesv2.PutConfigurationSetSendingOptionsResponse{}, err
}

// PutConfigurationSetDeliveryOptions sets the TLS policy and the maximum
// delivery time of a set's messages.
func (s *Service) PutConfigurationSetDeliveryOptions(ctx context.Context, in *sesv2.PutConfigurationSetDeliveryOptionsRequest) (*sesv2.PutConfigurationSetDeliveryOptionsResponse, error) {
	d := &sesv2.DeliveryOptions{MaxDeliverySeconds: in.MaxDeliverySeconds, SendingPoolName: in.SendingPoolName, TlsPolicy: in.TlsPolicy}
	if err := checkDeliveryOptions(d); err != nil {
		return nil, err
	}
	err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		c.DeliveryOptions = d
		return nil
	})
	return &sesv2.PutConfigurationSetDeliveryOptionsResponse{}, err
}

// PutConfigurationSetReputationOptions records whether reputation metrics
// are kept.
func (s *Service) PutConfigurationSetReputationOptions(ctx context.Context, in *sesv2.PutConfigurationSetReputationOptionsRequest) (*sesv2.PutConfigurationSetReputationOptionsResponse, error) {
	err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		c.ReputationOptions = &sesv2.ReputationOptions{ReputationMetricsEnabled: ptr(deref(in.ReputationMetricsEnabled))}
		return nil
	})
	return &sesv2.PutConfigurationSetReputationOptionsResponse{}, err
}

// PutConfigurationSetSuppressionOptions sets the reasons that suppress
// for messages of the set, overriding the account's.
func (s *Service) PutConfigurationSetSuppressionOptions(ctx context.Context, in *sesv2.PutConfigurationSetSuppressionOptionsRequest) (*sesv2.PutConfigurationSetSuppressionOptionsResponse, error) {
	err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		c.SuppressionOptions = &sesv2.SuppressionOptions{SuppressedReasons: slices.Clone(in.SuppressedReasons), ValidationOptions: in.ValidationOptions}
		if c.SuppressionOptions.SuppressedReasons == nil {
			c.SuppressionOptions.SuppressedReasons = []sesv2.SuppressionListReason{}
		}
		return nil
	})
	return &sesv2.PutConfigurationSetSuppressionOptionsResponse{}, err
}

// PutConfigurationSetTrackingOptions records the custom redirect domain.
func (s *Service) PutConfigurationSetTrackingOptions(ctx context.Context, in *sesv2.PutConfigurationSetTrackingOptionsRequest) (*sesv2.PutConfigurationSetTrackingOptionsResponse, error) {
	err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		if in.CustomRedirectDomain == nil {
			c.TrackingOptions = nil
			return nil
		}
		c.TrackingOptions = &sesv2.TrackingOptions{CustomRedirectDomain: in.CustomRedirectDomain, HttpsPolicy: in.HttpsPolicy}
		return nil
	})
	return &sesv2.PutConfigurationSetTrackingOptionsResponse{}, err
}

// PutConfigurationSetArchivingOptions records the archive of a set.
func (s *Service) PutConfigurationSetArchivingOptions(ctx context.Context, in *sesv2.PutConfigurationSetArchivingOptionsRequest) (*sesv2.PutConfigurationSetArchivingOptionsResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkArchiving(ctx, acct, str(in.ArchiveArn)); err != nil {
		return nil, err
	}
	err = s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		if in.ArchiveArn == nil {
			c.ArchivingOptions = nil
		} else {
			c.ArchivingOptions = &sesv2.ArchivingOptions{ArchiveArn: in.ArchiveArn}
		}
		return nil
	})
	return &sesv2.PutConfigurationSetArchivingOptionsResponse{}, err
}

// PutConfigurationSetVdmOptions records the VDM options of a set.
func (s *Service) PutConfigurationSetVdmOptions(ctx context.Context, in *sesv2.PutConfigurationSetVdmOptionsRequest) (*sesv2.PutConfigurationSetVdmOptionsResponse, error) {
	err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		c.VdmOptions = in.VdmOptions
		return nil
	})
	return &sesv2.PutConfigurationSetVdmOptionsResponse{}, err
}

var destNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func destination(name string, d *sesv2.EventDestinationDefinition) (sesv2.EventDestination, error) {
	if !destNameRe.MatchString(name) {
		return sesv2.EventDestination{}, fault.Invalidf("Invalid event destination name %q", name)
	}
	n := 0
	for _, set := range []bool{d.SnsDestination != nil, d.EventBridgeDestination != nil, d.CloudWatchDestination != nil, d.KinesisFirehoseDestination != nil, d.PinpointDestination != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return sesv2.EventDestination{}, fault.Invalidf("An event destination needs exactly one of SnsDestination, EventBridgeDestination, CloudWatchDestination, KinesisFirehoseDestination or PinpointDestination")
	}
	if len(d.MatchingEventTypes) == 0 {
		return sesv2.EventDestination{}, fault.Invalidf("MatchingEventTypes must name at least one event type")
	}
	return sesv2.EventDestination{
		Name: ptr(name), Enabled: ptr(deref(d.Enabled)), MatchingEventTypes: slices.Clone(d.MatchingEventTypes),
		SnsDestination: d.SnsDestination, EventBridgeDestination: d.EventBridgeDestination, CloudWatchDestination: d.CloudWatchDestination,
		KinesisFirehoseDestination: d.KinesisFirehoseDestination, PinpointDestination: d.PinpointDestination,
	}, nil
}

// CreateConfigurationSetEventDestination adds an event destination.
func (s *Service) CreateConfigurationSetEventDestination(ctx context.Context, in *sesv2.CreateConfigurationSetEventDestinationRequest) (*sesv2.CreateConfigurationSetEventDestinationResponse, error) {
	name := str(in.EventDestinationName)
	d, err := destination(name, deref2(in.EventDestination))
	if err != nil {
		return nil, err
	}
	err = s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		for _, e := range c.Destinations {
			if str(e.Name) == name {
				return &fault.Error{Kind: fault.Conflict, Message: "Event destination " + name + " already exists", ResourceType: "event-destination", ResourceID: name}
			}
		}
		if len(c.Destinations) >= 10 {
			return &fault.Error{Kind: fault.QuotaExceeded, Message: "A configuration set has at most 10 event destinations"}
		}
		c.Destinations = append(c.Destinations, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.CreateConfigurationSetEventDestinationResponse{}, nil
}

func deref2(d *sesv2.EventDestinationDefinition) *sesv2.EventDestinationDefinition {
	if d == nil {
		return &sesv2.EventDestinationDefinition{}
	}
	return d
}

// GetConfigurationSetEventDestinations lists a set's event destinations.
func (s *Service) GetConfigurationSetEventDestinations(ctx context.Context, in *sesv2.GetConfigurationSetEventDestinationsRequest) (*sesv2.GetConfigurationSetEventDestinationsResponse, error) {
	c, err := s.callerConfigSet(ctx, str(in.ConfigurationSetName))
	if err != nil {
		return nil, err
	}
	out := &sesv2.GetConfigurationSetEventDestinationsResponse{EventDestinations: c.Destinations}
	if out.EventDestinations == nil {
		out.EventDestinations = []sesv2.EventDestination{}
	}
	return out, nil
}

func notFoundDest(name string) error {
	return &fault.Error{Kind: fault.NotFound, Message: "Event destination " + name + " does not exist", ResourceType: "event-destination", ResourceID: name}
}

// UpdateConfigurationSetEventDestination replaces an event destination.
func (s *Service) UpdateConfigurationSetEventDestination(ctx context.Context, in *sesv2.UpdateConfigurationSetEventDestinationRequest) (*sesv2.UpdateConfigurationSetEventDestinationResponse, error) {
	name := str(in.EventDestinationName)
	d, err := destination(name, deref2(in.EventDestination))
	if err != nil {
		return nil, err
	}
	err = s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		for i, e := range c.Destinations {
			if str(e.Name) == name {
				c.Destinations[i] = d
				return nil
			}
		}
		return notFoundDest(name)
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.UpdateConfigurationSetEventDestinationResponse{}, nil
}

// DeleteConfigurationSetEventDestination removes an event destination.
func (s *Service) DeleteConfigurationSetEventDestination(ctx context.Context, in *sesv2.DeleteConfigurationSetEventDestinationRequest) (*sesv2.DeleteConfigurationSetEventDestinationResponse, error) {
	name := str(in.EventDestinationName)
	err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(c *configSetRecord) error {
		for i, e := range c.Destinations {
			if str(e.Name) == name {
				c.Destinations = slices.Delete(c.Destinations, i, i+1)
				return nil
			}
		}
		return notFoundDest(name)
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.DeleteConfigurationSetEventDestinationResponse{}, nil
}
