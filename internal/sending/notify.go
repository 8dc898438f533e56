package sending

import (
	"context"
	"encoding/json"
	"regexp"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/ses"
)

// SES v1's feedback notifications (SetIdentityNotificationTopic): an
// identity names an SNS topic for its bounces, complaints and deliveries,
// and each such event of a message it sends is published there in the
// notification format ("Amazon SES notification contents"):
// notificationType instead of eventType, and the message's headers only
// when the identity asks for them. They are published beside the events
// of the message's configuration set, whatever it is.

// notifyTopics are an identity's notification topics and whether their
// notifications carry the headers, by notification type.
type notifyTopics struct {
	Topics  map[string]string `json:"topics,omitempty"`
	Headers map[string]bool   `json:"headers,omitempty"`
}

func (n *notifyTopics) empty() bool { return n == nil || len(n.Topics) == 0 }

// notification is what a topic of notifyTopics receives.
type notification struct {
	NotificationType string           `json:"notificationType"`
	Mail             notificationMail `json:"mail"`
	Bounce           *bounceEvent     `json:"bounce,omitempty"`
	Complaint        *complaintEvent  `json:"complaint,omitempty"`
	Delivery         *deliveryEvent   `json:"delivery,omitempty"`
}

// notificationMail is the mail object of a notification: an event's,
// without tags, and without headers unless they are asked for.
type notificationMail struct {
	mailCore
	HeadersTruncated *bool          `json:"headersTruncated,omitempty"`
	Headers          []mailHeader   `json:"headers,omitempty"`
	CommonHeaders    *commonHeaders `json:"commonHeaders,omitempty"`
}

// notify publishes ev to the topic n names for its type, if any.
func (s *Service) notify(ctx context.Context, acct string, n *notifyTopics, ev *Event) {
	if n.empty() {
		return
	}
	arn := n.Topics[ev.EventType] // only Bounce, Complaint and Delivery have one
	if arn == "" {
		return
	}
	log := s.log.With("message_id", ev.Mail.MessageID, "notification", ev.EventType, "arn", arn)
	if s.cfg.Publisher == nil {
		log.Info("notification not published: no publisher on this server")
		return
	}
	m := ev.Mail
	note := notification{NotificationType: ev.EventType, Bounce: ev.Bounce, Complaint: ev.Complaint, Delivery: ev.Delivery,
		Mail: notificationMail{mailCore: m.mailCore}}
	if n.Headers[ev.EventType] {
		note.Mail.HeadersTruncated, note.Mail.Headers, note.Mail.CommonHeaders = &m.HeadersTruncated, m.Headers, &m.CommonHeaders
	}
	body, err := json.Marshal(note)
	if err != nil {
		log.Error("notification not encoded", "err", err)
		return
	}
	if err := s.cfg.Publisher.Publish(ctx, acct, arn, body); err != nil {
		log.Warn("notification not published", "err", err)
	}
}

// publishFor publishes an event of a message: to its configuration set's
// destinations and to its identity's notification topic.
func (s *Service) publishFor(ctx context.Context, acct string, meta *messageMeta, ev *Event) {
	s.publish(ctx, acct, meta.ConfigSet, ev)
	s.notify(ctx, acct, meta.Notify, ev)
}

var snsTopicRe = regexp.MustCompile(`^arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$`)

// SetIdentityNotificationTopic sets (or, with no SnsTopic, removes) the
// topic of an identity's notifications of one type.
func (s *Service) SetIdentityNotificationTopic(ctx context.Context, in *ses.SetIdentityNotificationTopicRequest) (*ses.SetIdentityNotificationTopicResponse, error) {
	topic, typ := str(in.SnsTopic), string(deref(in.NotificationType))
	if topic != "" && !snsTopicRe.MatchString(topic) {
		return nil, fault.Invalidf("Invalid SnsTopic %q: want the ARN of an SNS topic (arn:aws:sns:<region>:<account>:<name>)", topic)
	}
	_, err := s.updateIdentity(ctx, str(in.Identity), func(_ context.Context, _ Tx, _ string, r *identityRecord) error {
		n := r.notify()
		if topic == "" {
			delete(n.Topics, typ)
		} else {
			n.Topics[typ] = topic
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ses.SetIdentityNotificationTopicResponse{}, nil
}

// SetIdentityHeadersInNotificationsEnabled says whether an identity's
// notifications of one type carry the message's headers.
func (s *Service) SetIdentityHeadersInNotificationsEnabled(ctx context.Context, in *ses.SetIdentityHeadersInNotificationsEnabledRequest) (*ses.SetIdentityHeadersInNotificationsEnabledResponse, error) {
	typ := string(deref(in.NotificationType))
	_, err := s.updateIdentity(ctx, str(in.Identity), func(_ context.Context, _ Tx, _ string, r *identityRecord) error {
		n := r.notify()
		if deref(in.Enabled) {
			n.Headers[typ] = true
		} else {
			delete(n.Headers, typ)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ses.SetIdentityHeadersInNotificationsEnabledResponse{}, nil
}

// GetIdentityNotificationAttributes returns the notification settings of
// each identity named that exists.
func (s *Service) GetIdentityNotificationAttributes(ctx context.Context, in *ses.GetIdentityNotificationAttributesRequest) (*ses.GetIdentityNotificationAttributesResponse, error) {
	out := &ses.GetIdentityNotificationAttributesResponse{NotificationAttributes: map[string]ses.IdentityNotificationAttributes{}}
	err := s.eachIdentity(ctx, in.Identities, func(name string, rec *identityRecord) {
		var n notifyTopics
		if rec.Notify != nil {
			n = *rec.Notify
		}
		topic := func(typ ses.NotificationType) *string {
			if t := n.Topics[string(typ)]; t != "" {
				return &t
			}
			return nil
		}
		out.NotificationAttributes[name] = ses.IdentityNotificationAttributes{
			BounceTopic: topic(ses.NotificationTypeBounce), ComplaintTopic: topic(ses.NotificationTypeComplaint),
			DeliveryTopic: topic(ses.NotificationTypeDelivery), ForwardingEnabled: ptr(rec.FeedbackForwarding),
			HeadersInBounceNotificationsEnabled:    ptr(n.Headers[string(ses.NotificationTypeBounce)]),
			HeadersInComplaintNotificationsEnabled: ptr(n.Headers[string(ses.NotificationTypeComplaint)]),
			HeadersInDeliveryNotificationsEnabled:  ptr(n.Headers[string(ses.NotificationTypeDelivery)]),
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
