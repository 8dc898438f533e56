package sms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"

	"github.com/tidings/tidings/internal/fault"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// DedicatedNumber is a number whose messages one provider carries (a
// WhatsApp business number).
type DedicatedNumber struct {
	// AccountID holds the number.
	AccountID string
	// Number is E.164.
	Number string
	// Provider carries every message from Number; it is started and
	// closed with the service, once however many numbers it has.
	Provider Provider
	// Capabilities of the number (default SMS).
	Capabilities []sv.NumberCapability
	// Tags are set on the number when it is added (they say what it is:
	// "tidings:channel" = "WHATSAPP").
	Tags map[string]string
}

func (s *Service) dedicatedProviders() []Provider {
	var out []Provider
	for _, d := range s.cfg.Dedicated {
		if !slices.Contains(out, d.Provider) {
			out = append(out, d.Provider)
		}
	}
	return out
}

// DedicatedNumberID is the PhoneNumberId a dedicated number gets: the same
// at every start, so that scripts can name it.
func DedicatedNumberID(accountID, number string) string {
	sum := sha256.Sum256([]byte(accountID + "|" + number))
	return "phone-" + hex.EncodeToString(sum[:16])
}

// provision adds a dedicated number to its account, unless the account
// has it already; another account holding it is an error.
func (s *Service) provision(ctx context.Context, d DedicatedNumber) error {
	number, country, err := parseNumber(d.Number)
	if err != nil {
		return err
	}
	if number != d.Number {
		return fault.Invalidf("%s is not written in E.164 (%s)", d.Number, number)
	}
	caps := []string{string(sv.NumberCapabilitySms)}
	if len(d.Capabilities) > 0 {
		caps = caps[:0]
		for _, c := range d.Capabilities {
			caps = append(caps, string(c))
		}
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		r, err := tx.GetByKey(ctx, KindPhoneNumber, number)
		if err == nil {
			if r.AccountID != d.AccountID {
				return fault.Conflictf("account %s already holds %s", r.AccountID, number)
			}
			return nil
		}
		if !fault.Is(err, fault.NotFound) {
			return err
		}
		n := &numberRec{
			ID: DedicatedNumberID(d.AccountID, number), Number: number, Country: country,
			MessageType: string(sv.MessageTypeTransactional), Capabilities: caps, NumberType: string(sv.NumberTypeLongCode),
			Status: string(sv.NumberStatusActive), Keywords: defaultKeywords(), Tags: d.Tags, CreatedAt: s.now(),
		}
		n.ARN = s.arn(d.AccountID, "phone-number/"+n.ID)
		if err := s.useOptOutList(ctx, tx, d.AccountID, &n.OptOutList); err != nil {
			return err
		}
		if err := tx.Insert(ctx, n.resource(d.AccountID)); err != nil {
			return err
		}
		s.log.Info("dedicated number added", "account", d.AccountID, "number", number, "id", n.ID)
		return nil
	})
}
