package sms

import (
	"context"
	"encoding/json"

	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// PutMessageFeedback records whether a message arrived, as its sender
// learned it (the user typed the one-time password, or did not). It is
// kept on the message (the native API's view shows it) and logged; the
// model has no event type for it, so no event record is published.
func (s *Service) PutMessageFeedback(ctx context.Context, in *sv.PutMessageFeedbackRequest) (*sv.PutMessageFeedbackResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	id := str(in.MessageId)
	if typ, rest, ok := s.parseARN(accountID, id); ok && typ == "message" {
		id = rest
	}
	status := *in.MessageFeedbackStatus
	err = s.store.InTx(ctx, func(tx Tx) error {
		rec, err := tx.GetMessage(ctx, id)
		if err == nil && rec.AccountID != accountID {
			err = notFound(sv.ResourceTypeMessage, id, "Message %s does not exist", id)
		}
		if err != nil {
			return restype(err, sv.ResourceTypeMessage, str(in.MessageId))
		}
		var m messageRec
		if err := json.Unmarshal(rec.Body, &m); err != nil {
			return err
		}
		m.Feedback, m.FeedbackAt = string(status), s.now()
		rec.Body = encode(&m)
		return tx.UpdateMessage(ctx, rec)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("sms message feedback", "account", accountID, "message", id, "status", string(status))
	return &sv.PutMessageFeedbackResult{MessageId: in.MessageId, MessageFeedbackStatus: in.MessageFeedbackStatus}, nil
}

// SetDefaultMessageFeedbackEnabled sets whether the messages sent with a
// configuration set expect feedback when the send does not say.
func (s *Service) SetDefaultMessageFeedbackEnabled(ctx context.Context, in *sv.SetDefaultMessageFeedbackEnabledRequest) (*sv.SetDefaultMessageFeedbackEnabledResult, error) {
	c, err := s.updateConfigSet(ctx, str(in.ConfigurationSetName), func(_ Tx, _ string, c *configSetRec) error {
		c.DefaultFeedback = *in.MessageFeedbackEnabled
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &sv.SetDefaultMessageFeedbackEnabledResult{ConfigurationSetArn: ptr(c.ARN), ConfigurationSetName: ptr(c.Name),
		MessageFeedbackEnabled: ptr(c.DefaultFeedback)}, nil
}
