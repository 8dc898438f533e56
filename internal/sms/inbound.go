package sms

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// Inbound handles a message a person sent to one of our numbers: a
// keyword is answered (STOP puts the sender on the number's opt-out list,
// an OPT_IN keyword takes it off), and when the number (or its pool) has
// two-way messaging on, the message goes to its TwoWayChannelArn in AWS's
// two-way payload. Everything is committed in one transaction with the
// jobs that publish and answer.
func (s *Service) Inbound(ctx context.Context, in Inbound) error {
	if in.ID == "" {
		in.ID = newID("")
	}
	at := in.At
	if at.IsZero() {
		at = s.now()
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		r, err := tx.GetByKey(ctx, KindPhoneNumber, in.Destination)
		if fault.Is(err, fault.NotFound) {
			s.log.Warn("inbound message to a number no account holds; dropped", "to", in.Destination, "from", in.Origination)
			return nil
		}
		if err != nil {
			return err
		}
		var n numberRec
		if err := decode(r, &n); err != nil {
			return err
		}
		accountID := r.AccountID
		keywords, optOut, selfManaged := n.Keywords, n.OptOutList, n.SelfManagedOptOuts
		twoWay, channel := n.TwoWay, n.TwoWayChannelARN
		if n.PoolID != "" {
			if p, err := s.getPool(ctx, tx, accountID, n.PoolID); err == nil {
				keywords, optOut, selfManaged = p.Keywords, p.OptOutList, p.SelfManagedOptOuts
				if p.TwoWay {
					twoWay, channel = true, p.TwoWayChannelARN
				}
			}
		}
		// The message this one answers: the last we sent this person from
		// this number, before any keyword answer below.
		previous := ""
		if c, err := tx.Get(ctx, accountID, kindConversation, in.Destination+"|"+in.Origination); err == nil {
			var v map[string]string
			if json.Unmarshal(c.Body, &v) == nil {
				previous = v["messageId"]
			}
		}
		word := strings.ToUpper(strings.TrimSpace(in.Body))
		if f := strings.Fields(word); len(f) > 0 {
			word = f[0]
		}
		kw, isKeyword := keywords[word]
		if isKeyword && !selfManaged {
			switch kw.Action {
			case string(sv.KeywordActionOptOut):
				if err := s.useOptOutList(ctx, tx, accountID, &optOut); err != nil {
					return err
				}
				if err := tx.PutOptedOut(ctx, accountID, optOut, OptedOut{Number: in.Origination, EndUser: true, CreatedAt: at}); err != nil {
					return err
				}
			case string(sv.KeywordActionOptIn):
				if err := tx.DeleteOptedOut(ctx, accountID, optOut, in.Origination); err != nil && !fault.Is(err, fault.NotFound) {
					return err
				}
			}
			if kw.Message != "" {
				if err := s.reply(ctx, tx, accountID, &n, in.Origination, kw.Message); err != nil {
					return err
				}
			}
		}
		s.log.Info("inbound message", "account", accountID, "to", in.Destination, "from", in.Origination, "keyword", isKeyword)
		if !twoWay || channel == "" {
			return nil
		}
		payload := map[string]any{
			"originationNumber":          in.Origination,
			"destinationNumber":          in.Destination,
			"messageKeyword":             "KEYWORD_" + accountID,
			"messageBody":                in.Body,
			"inboundMessageId":           in.ID,
			"previousPublishedMessageId": previous,
		}
		msg, _ := json.Marshal(payload)
		return tx.Enqueue(ctx, PublishArgs{AccountID: accountID, TopicARN: channel, EventType: "TWO_WAY", Message: string(msg)})
	})
}

// reply sends a keyword's answer from number n to dest; it is an ordinary
// message with its own events.
func (s *Service) reply(ctx context.Context, tx Tx, accountID string, n *numberRec, dest, body string) error {
	split := Segment(body)
	_, country, err := parseNumber(dest)
	if err != nil {
		country = n.Country
	}
	now := s.now()
	m := &messageRec{ID: newID(""), AccountID: accountID, Channel: ChannelText, Origination: n.Number, OriginationARN: n.ARN,
		Simulator: n.NumberType == string(sv.NumberTypeSimulator), Destination: dest, Country: country, Body: body,
		Encoding: split.Encoding, Segments: split.Segments, MessageType: string(sv.MessageTypeTransactional),
		PriceUSD: float64(split.Segments) * PricePerSegmentUSD, RequestedAt: now, ExpiresAt: now.Add(s.cfg.UnknownAfter)}
	return s.commitMessage(ctx, tx, m)
}
