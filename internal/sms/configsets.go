package sms

import (
	"context"
	"slices"
	"time"

	"github.com/tidings/tidings/internal/model/smithy"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// configSetRec is a configuration set (the Body of a KindConfigurationSet
// resource; ID and Name are its name).
type configSetRec struct {
	Name               string                `json:"name"`
	ARN                string                `json:"arn"`
	Destinations       []sv.EventDestination `json:"destinations"`
	DefaultSenderID    string                `json:"defaultSenderId,omitempty"`
	DefaultMessageType string                `json:"defaultMessageType,omitempty"`
	DefaultFeedback    bool                  `json:"defaultFeedback,omitempty"`
	ProtectConfigID    string                `json:"protectConfigId,omitempty"`
	Tags               map[string]string     `json:"tags,omitempty"`
	CreatedAt          time.Time             `json:"createdAt"`
}

func (c *configSetRec) resource(accountID string) *Resource {
	return &Resource{AccountID: accountID, Kind: KindConfigurationSet, ID: c.Name, Name: c.Name, Body: encode(c), CreatedAt: c.CreatedAt}
}

func (c *configSetRec) info() sv.ConfigurationSetInformation {
	out := sv.ConfigurationSetInformation{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name),
		CreatedTimestamp: smithy.NewTime(c.CreatedAt), EventDestinations: c.Destinations}
	if out.EventDestinations == nil {
		out.EventDestinations = []sv.EventDestination{}
	}
	if c.DefaultSenderID != "" {
		out.DefaultSenderId = ptr(c.DefaultSenderID)
	}
	if c.DefaultMessageType != "" {
		out.DefaultMessageType = ptr(sv.MessageType(c.DefaultMessageType))
	}
	out.DefaultMessageFeedbackEnabled = ptr(c.DefaultFeedback)
	if c.ProtectConfigID != "" {
		out.ProtectConfigurationId = ptr(c.ProtectConfigID)
	}
	return out
}

func (s *Service) getConfigSet(ctx context.Context, tx Tx, accountID, ref string) (*configSetRec, error) {
	name := ref
	if typ, rest, ok := s.parseARN(accountID, ref); ok && typ == "configuration-set" {
		name = rest
	}
	r, err := tx.Get(ctx, accountID, KindConfigurationSet, name)
	if err != nil {
		return nil, restype(err, sv.ResourceTypeConfigurationSet, ref)
	}
	var c configSetRec
	return &c, decode(r, &c)
}

// CreateConfigurationSet makes a configuration set.
func (s *Service) CreateConfigurationSet(ctx context.Context, in *sv.CreateConfigurationSetRequest) (*sv.CreateConfigurationSetResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	c := &configSetRec{Name: str(in.ConfigurationSetName), Tags: tags, CreatedAt: s.now()}
	c.ARN = s.arn(accountID, "configuration-set/"+c.Name)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := s.checkLimit(ctx, tx, accountID, sv.AccountLimitNameConfigurationSets); err != nil {
			return err
		}
		return restype(tx.Insert(ctx, c.resource(accountID)), sv.ResourceTypeConfigurationSet, c.Name)
	})
	if err != nil {
		return nil, err
	}
	return &sv.CreateConfigurationSetResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name),
		CreatedTimestamp: smithy.NewTime(c.CreatedAt), Tags: tagList(c.Tags)}, nil
}

// DescribeConfigurationSets lists configuration sets.
func (s *Service) DescribeConfigurationSets(ctx context.Context, in *sv.DescribeConfigurationSetsRequest) (*sv.DescribeConfigurationSetsResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{"event-destination-name": true, "matching-event-types": true, "default-message-type": true, "default-sender-id": true, "protect-configuration-id": true}
	filters, err := filterMap(in.Filters, func(f sv.ConfigurationSetFilter) string { return string(*f.Name) },
		func(f sv.ConfigurationSetFilter) []string { return f.Values }, func(n string) bool { return known[n] })
	if err != nil {
		return nil, err
	}
	keep := func(c *configSetRec) bool {
		return matches(filters, func(name string) []string {
			var v []string
			switch name {
			case "event-destination-name":
				for _, d := range c.Destinations {
					v = append(v, str(d.EventDestinationName))
				}
			case "matching-event-types":
				for _, d := range c.Destinations {
					for _, e := range d.MatchingEventTypes {
						v = append(v, string(e))
					}
				}
			case "default-message-type":
				v = []string{c.DefaultMessageType}
			case "default-sender-id":
				v = []string{c.DefaultSenderID}
			case "protect-configuration-id":
				v = []string{c.ProtectConfigID}
			}
			return v
		})
	}
	list, next, err := describe(ctx, s, accountID, KindConfigurationSet, len(in.ConfigurationSetNames),
		func(tx Tx, i int) (*configSetRec, error) {
			return s.getConfigSet(ctx, tx, accountID, in.ConfigurationSetNames[i])
		},
		keep, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &sv.DescribeConfigurationSetsResult{ConfigurationSets: infos(list, (*configSetRec).info), NextToken: next}, nil
}

// DeleteConfigurationSet deletes a configuration set.
func (s *Service) DeleteConfigurationSet(ctx context.Context, in *sv.DeleteConfigurationSetRequest) (*sv.DeleteConfigurationSetResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var c *configSetRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if c, err = s.getConfigSet(ctx, tx, accountID, str(in.ConfigurationSetName)); err != nil {
			return err
		}
		return tx.Delete(ctx, accountID, KindConfigurationSet, c.Name)
	})
	if err != nil {
		return nil, err
	}
	i := c.info()
	return &sv.DeleteConfigurationSetResult{ConfigurationSetArn: i.ConfigurationSetArn, ConfigurationSetName: i.ConfigurationSetName,
		CreatedTimestamp: i.CreatedTimestamp, DefaultMessageType: i.DefaultMessageType, DefaultSenderId: i.DefaultSenderId,
		EventDestinations: i.EventDestinations}, nil
}

// updateConfigSet loads, changes and stores a configuration set.
func (s *Service) updateConfigSet(ctx context.Context, ref string, change func(tx Tx, accountID string, c *configSetRec) error) (*configSetRec, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var c *configSetRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if c, err = s.getConfigSet(ctx, tx, accountID, ref); err != nil {
			return err
		}
		if err := change(tx, accountID, c); err != nil {
			return err
		}
		return tx.Update(ctx, c.resource(accountID))
	})
	return c, err
}

// checkDestination checks that a destination names exactly one target.
func checkDestination(cw *sv.CloudWatchLogsDestination, kf *sv.KinesisFirehoseDestination, sns *sv.SnsDestination) error {
	n := 0
	for _, set := range []bool{cw != nil, kf != nil, sns != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return invalid(sv.ValidationExceptionReasonParametersCannotBeUsedTogether, "An event destination needs exactly one of CloudWatchLogsDestination, KinesisFirehoseDestination and SnsDestination")
	}
	return nil
}

// CreateEventDestination adds an event destination to a configuration set.
// SNS destinations publish to the Tidings topic of that ARN; CloudWatch
// Logs and Firehose destinations are stored and deliver nothing.
func (s *Service) CreateEventDestination(ctx context.Context, in *sv.CreateEventDestinationRequest) (*sv.CreateEventDestinationResult, error) {
	if err := checkDestination(in.CloudWatchLogsDestination, in.KinesisFirehoseDestination, in.SnsDestination); err != nil {
		return nil, err
	}
	d := sv.EventDestination{EventDestinationName: in.EventDestinationName, Enabled: ptr(true), MatchingEventTypes: in.MatchingEventTypes,
		CloudWatchLogsDestination: in.CloudWatchLogsDestination, KinesisFirehoseDestination: in.KinesisFirehoseDestination, SnsDestination: in.SnsDestination}
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(_ Tx, _ string, c *configSetRec) error {
		for _, e := range c.Destinations {
			if str(e.EventDestinationName) == str(d.EventDestinationName) {
				return conflict(sv.ConflictExceptionReasonResourceAlreadyExists, sv.ResourceTypeEventDestination, str(d.EventDestinationName), "Event destination %s already exists", str(d.EventDestinationName))
			}
		}
		c.Destinations = append(c.Destinations, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.CreateEventDestinationResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name), EventDestination: &d}, nil
}

// UpdateEventDestination changes an event destination.
func (s *Service) UpdateEventDestination(ctx context.Context, in *sv.UpdateEventDestinationRequest) (*sv.UpdateEventDestinationResult, error) {
	var out sv.EventDestination
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(_ Tx, _ string, c *configSetRec) error {
		i := slices.IndexFunc(c.Destinations, func(e sv.EventDestination) bool { return str(e.EventDestinationName) == str(in.EventDestinationName) })
		if i < 0 {
			return notFound(sv.ResourceTypeEventDestination, str(in.EventDestinationName), "Event destination %s does not exist", str(in.EventDestinationName))
		}
		d := &c.Destinations[i]
		if in.Enabled != nil {
			d.Enabled = in.Enabled
		}
		if in.MatchingEventTypes != nil {
			d.MatchingEventTypes = in.MatchingEventTypes
		}
		if in.CloudWatchLogsDestination != nil || in.KinesisFirehoseDestination != nil || in.SnsDestination != nil {
			if err := checkDestination(in.CloudWatchLogsDestination, in.KinesisFirehoseDestination, in.SnsDestination); err != nil {
				return err
			}
			d.CloudWatchLogsDestination, d.KinesisFirehoseDestination, d.SnsDestination = in.CloudWatchLogsDestination, in.KinesisFirehoseDestination, in.SnsDestination
		}
		out = *d
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.UpdateEventDestinationResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name), EventDestination: &out}, nil
}

// DeleteEventDestination removes an event destination.
func (s *Service) DeleteEventDestination(ctx context.Context, in *sv.DeleteEventDestinationRequest) (*sv.DeleteEventDestinationResult, error) {
	var out sv.EventDestination
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(_ Tx, _ string, c *configSetRec) error {
		i := slices.IndexFunc(c.Destinations, func(e sv.EventDestination) bool { return str(e.EventDestinationName) == str(in.EventDestinationName) })
		if i < 0 {
			return notFound(sv.ResourceTypeEventDestination, str(in.EventDestinationName), "Event destination %s does not exist", str(in.EventDestinationName))
		}
		out = c.Destinations[i]
		c.Destinations = slices.Delete(c.Destinations, i, i+1)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.DeleteEventDestinationResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name), EventDestination: &out}, nil
}

// SetDefaultSenderId sets the sender ID used when a send names none.
func (s *Service) SetDefaultSenderId(ctx context.Context, in *sv.SetDefaultSenderIdRequest) (*sv.SetDefaultSenderIdResult, error) {
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(_ Tx, _ string, c *configSetRec) error {
		c.DefaultSenderID = str(in.SenderId)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.SetDefaultSenderIdResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name), SenderId: in.SenderId}, nil
}

// DeleteDefaultSenderId clears the default sender ID.
func (s *Service) DeleteDefaultSenderId(ctx context.Context, in *sv.DeleteDefaultSenderIdRequest) (*sv.DeleteDefaultSenderIdResult, error) {
	var old string
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(_ Tx, _ string, c *configSetRec) error {
		old, c.DefaultSenderID = c.DefaultSenderID, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.DeleteDefaultSenderIdResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name), SenderId: ptr(old)}, nil
}

// SetDefaultMessageType sets the message type used when a send names none.
func (s *Service) SetDefaultMessageType(ctx context.Context, in *sv.SetDefaultMessageTypeRequest) (*sv.SetDefaultMessageTypeResult, error) {
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(_ Tx, _ string, c *configSetRec) error {
		c.DefaultMessageType = string(*in.MessageType)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.SetDefaultMessageTypeResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name), MessageType: in.MessageType}, nil
}

// DeleteDefaultMessageType clears the default message type.
func (s *Service) DeleteDefaultMessageType(ctx context.Context, in *sv.DeleteDefaultMessageTypeRequest) (*sv.DeleteDefaultMessageTypeResult, error) {
	var old string
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(_ Tx, _ string, c *configSetRec) error {
		old, c.DefaultMessageType = c.DefaultMessageType, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &sv.DeleteDefaultMessageTypeResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name)}
	if old != "" {
		out.MessageType = ptr(sv.MessageType(old))
	}
	return out, nil
}
