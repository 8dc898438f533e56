package sms

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/smithy"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// Verification codes. A code is six digits, kept only as a salted SHA-256
// and valid for CodeTTL; MaxCodeAttempts wrong guesses discard it, and a
// number gets at most MaxCodesPerDay codes in 24 hours
// (ServiceQuotaExceededException VERIFICATION_ATTEMPTS_PER_DAY).
const (
	CodeTTL         = 15 * time.Minute
	MaxCodeAttempts = 5
	MaxCodesPerDay  = 5
)

// verifiedRec is a verified destination number (the Body of a
// KindVerifiedNumber resource, named by its E.164 number).
type verifiedRec struct {
	ID        string            `json:"id"`
	ARN       string            `json:"arn"`
	Number    string            `json:"number"`
	Status    string            `json:"status"`
	Tags      map[string]string `json:"tags,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
	// The pending code: its salted hash, when it expires, the wrong
	// guesses so far.
	CodeSalt    string    `json:"codeSalt,omitempty"`
	CodeHash    string    `json:"codeHash,omitempty"`
	CodeExpires time.Time `json:"codeExpires,omitzero"`
	Attempts    int       `json:"attempts,omitempty"`
	// CodesSent are when codes were sent in the last 24 hours.
	CodesSent  []time.Time `json:"codesSent,omitempty"`
	VerifiedAt time.Time   `json:"verifiedAt,omitzero"`
}

func (v *verifiedRec) resource(accountID string) *Resource {
	return &Resource{AccountID: accountID, Kind: KindVerifiedNumber, ID: v.ID, Name: v.Number, Body: encode(v), CreatedAt: v.CreatedAt}
}

func (v *verifiedRec) info() sv.VerifiedDestinationNumberInformation {
	return sv.VerifiedDestinationNumberInformation{CreatedTimestamp: smithy.NewTime(v.CreatedAt), DestinationPhoneNumber: ptr(v.Number),
		Status: ptr(sv.VerificationStatus(v.Status)), VerifiedDestinationNumberArn: ptr(v.ARN), VerifiedDestinationNumberId: ptr(v.ID)}
}

func hashCode(salt, code string) string {
	h := sha256.Sum256([]byte(salt + ":" + code))
	return hex.EncodeToString(h[:])
}

// getVerified resolves a verified destination number by its ID or ARN.
func (s *Service) getVerified(ctx context.Context, tx Tx, accountID, ref string) (*verifiedRec, error) {
	id := ref
	if typ, rest, ok := s.parseARN(accountID, ref); ok && typ == string(KindVerifiedNumber) {
		id = rest
	}
	r, err := tx.Get(ctx, accountID, KindVerifiedNumber, id)
	if err != nil {
		return nil, restype(err, sv.ResourceTypeVerifiedDestinationNumber, ref)
	}
	var v verifiedRec
	return &v, decode(r, &v)
}

// CreateVerifiedDestinationNumber adds a destination number to verify
// (status PENDING).
func (s *Service) CreateVerifiedDestinationNumber(ctx context.Context, in *sv.CreateVerifiedDestinationNumberRequest) (*sv.CreateVerifiedDestinationNumberResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if in.RcsAgentId != nil {
		return nil, invalid(sv.ValidationExceptionReasonUnspecifiedParameterNotSupported, "Tidings has no RCS agents")
	}
	number, _, err := parseNumber(str(in.DestinationPhoneNumber))
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	v := &verifiedRec{ID: newID("verified-"), Number: number, Status: string(sv.VerificationStatusPending), Tags: tags, CreatedAt: s.now()}
	v.ARN = s.arn(accountID, string(KindVerifiedNumber)+"/"+v.ID)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if err := s.checkLimit(ctx, tx, accountID, sv.AccountLimitNameVerifiedDestinationNumbers); err != nil {
			return err
		}
		return restype(tx.Insert(ctx, v.resource(accountID)), sv.ResourceTypeVerifiedDestinationNumber, number)
	})
	if err != nil {
		return nil, err
	}
	i := v.info()
	return &sv.CreateVerifiedDestinationNumberResult{CreatedTimestamp: i.CreatedTimestamp, DestinationPhoneNumber: i.DestinationPhoneNumber,
		Status: i.Status, Tags: tagList(v.Tags), VerifiedDestinationNumberArn: i.VerifiedDestinationNumberArn,
		VerifiedDestinationNumberId: i.VerifiedDestinationNumberId}, nil
}

// DescribeVerifiedDestinationNumbers lists verified destination numbers:
// those named by ID or by number, or a page of all, filtered by status.
func (s *Service) DescribeVerifiedDestinationNumbers(ctx context.Context, in *sv.DescribeVerifiedDestinationNumbersRequest) (*sv.DescribeVerifiedDestinationNumbersResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	filters, err := filterMap(in.Filters, func(f sv.VerifiedDestinationNumberFilter) string { return string(*f.Name) },
		func(f sv.VerifiedDestinationNumberFilter) []string { return f.Values },
		func(n string) bool {
			return n == string(sv.VerifiedDestinationNumberFilterNameStatus) || n == string(sv.VerifiedDestinationNumberFilterNameRcsAgentId)
		})
	if err != nil {
		return nil, err
	}
	keep := func(v *verifiedRec) bool {
		return matches(filters, func(name string) []string {
			if name == string(sv.VerifiedDestinationNumberFilterNameStatus) {
				return []string{v.Status}
			}
			return []string{""} // no RCS agents
		})
	}
	ids, numbers := in.VerifiedDestinationNumberIds, in.DestinationPhoneNumbers
	list, next, err := describe(ctx, s, accountID, KindVerifiedNumber, len(ids)+len(numbers), func(tx Tx, i int) (*verifiedRec, error) {
		if i < len(ids) {
			return s.getVerified(ctx, tx, accountID, ids[i])
		}
		n := numbers[i-len(ids)]
		r, err := tx.GetByName(ctx, accountID, KindVerifiedNumber, n)
		if err != nil {
			return nil, restype(err, sv.ResourceTypeVerifiedDestinationNumber, n)
		}
		var v verifiedRec
		return &v, decode(r, &v)
	}, keep, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return &sv.DescribeVerifiedDestinationNumbersResult{VerifiedDestinationNumbers: infos(list, (*verifiedRec).info), NextToken: next}, nil
}

// DeleteVerifiedDestinationNumber removes a verified destination number.
func (s *Service) DeleteVerifiedDestinationNumber(ctx context.Context, in *sv.DeleteVerifiedDestinationNumberRequest) (*sv.DeleteVerifiedDestinationNumberResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var v *verifiedRec
	err = s.store.InTx(ctx, func(tx Tx) error {
		if v, err = s.getVerified(ctx, tx, accountID, str(in.VerifiedDestinationNumberId)); err != nil {
			return err
		}
		return tx.Delete(ctx, accountID, KindVerifiedNumber, v.ID)
	})
	if err != nil {
		return nil, err
	}
	return &sv.DeleteVerifiedDestinationNumberResult{CreatedTimestamp: smithy.NewTime(v.CreatedAt), DestinationPhoneNumber: ptr(v.Number),
		VerifiedDestinationNumberArn: ptr(v.ARN), VerifiedDestinationNumberId: ptr(v.ID)}, nil
}

func newCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
	return fmt.Sprintf("%06d", n.Int64())
}

// verificationText is the message that carries a code: a text, or for a
// call the digits one by one, said twice.
func verificationText(code string, channel sv.VerificationChannel) string {
	if channel == sv.VerificationChannelVoice {
		digits := strings.Join(strings.Split(code, ""), ", ")
		return fmt.Sprintf("Your verification code is %s. Again, your code is %s.", digits, digits)
	}
	return fmt.Sprintf("Your verification code is %s. It expires in %d minutes.", code, int(CodeTTL/time.Minute))
}

// SendDestinationNumberVerificationCode sends a new code to a pending
// verified destination number, by text or by a call, through the normal
// send path (an origination identity of the account, the provider of the
// message); the code is stored with the message, in one transaction.
func (s *Service) SendDestinationNumberVerificationCode(ctx context.Context, in *sv.SendDestinationNumberVerificationCodeRequest) (*sv.SendDestinationNumberVerificationCodeResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	ref := str(in.VerifiedDestinationNumberId)
	var v *verifiedRec
	if err := s.store.InTx(ctx, func(tx Tx) error {
		v, err = s.getVerified(ctx, tx, accountID, ref)
		return err
	}); err != nil {
		return nil, err
	}
	channel := *in.VerificationChannel
	code := newCode()
	req := sendRequest{channel: ChannelText, dest: v.Number, ref: str(in.OriginationIdentity), configurationSet: str(in.ConfigurationSetName),
		context: in.Context, body: verificationText(code, channel), capability: sv.NumberCapabilitySms, verification: true,
		messageType: ptr(sv.MessageTypeTransactional)}
	if channel == sv.VerificationChannelVoice {
		if s.cfg.Synthesizer == nil {
			return nil, fault.Unavailablef("no text-to-speech engine is configured")
		}
		req.channel, req.capability = ChannelVoice, sv.NumberCapabilityVoice
	}
	req.before = func(tx Tx, m *messageRec) error {
		// Read again in the send's transaction: a concurrent send or
		// verification may have changed it.
		cur, err := s.getVerified(ctx, tx, accountID, v.ID)
		if err != nil {
			return err
		}
		if cur.Status == string(sv.VerificationStatusVerified) {
			return conflict(sv.ConflictExceptionReasonVerificationAlreadyComplete, sv.ResourceTypeVerifiedDestinationNumber, cur.ID,
				"%s is verified already", cur.Number)
		}
		now := s.now()
		recent := cur.CodesSent[:0]
		for _, t := range cur.CodesSent {
			if now.Sub(t) < 24*time.Hour {
				recent = append(recent, t)
			}
		}
		if len(recent) >= MaxCodesPerDay {
			return &fault.Error{Kind: fault.QuotaExceeded, Reason: string(sv.ServiceQuotaExceededExceptionReasonVerificationAttemptsPerDay),
				Message: fmt.Sprintf("%s has had %d verification codes in the last 24 hours", cur.Number, len(recent))}
		}
		salt := newID("")
		cur.CodesSent = append(recent, now)
		cur.CodeSalt, cur.CodeHash, cur.CodeExpires, cur.Attempts = salt, hashCode(salt, code), now.Add(CodeTTL), 0
		return tx.Update(ctx, cur.resource(accountID))
	}
	id, err := s.send(ctx, req)
	if err != nil {
		return nil, err
	}
	s.log.Info("verification code sent", "account", accountID, "verifiedDestinationNumber", v.ID, "channel", string(channel), "message", id)
	return &sv.SendDestinationNumberVerificationCodeResult{MessageId: ptr(id)}, nil
}

// VerifyDestinationNumber checks a code: the right one makes the number
// VERIFIED; a wrong one is a ValidationException (VERIFICATION_CODE_MISMATCH),
// counted; an expired or discarded one a ConflictException
// (VERIFICATION_CODE_EXPIRED).
func (s *Service) VerifyDestinationNumber(ctx context.Context, in *sv.VerifyDestinationNumberRequest) (*sv.VerifyDestinationNumberResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var (
		v        *verifiedRec
		mismatch error
	)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if v, err = s.getVerified(ctx, tx, accountID, str(in.VerifiedDestinationNumberId)); err != nil {
			return err
		}
		switch {
		case v.Status == string(sv.VerificationStatusVerified):
			return conflict(sv.ConflictExceptionReasonVerificationAlreadyComplete, sv.ResourceTypeVerifiedDestinationNumber, v.ID, "%s is verified already", v.Number)
		case v.CodeHash == "":
			return conflict(sv.ConflictExceptionReasonVerificationCodeExpired, sv.ResourceTypeVerifiedDestinationNumber, v.ID,
				"No verification code is pending for %s: send one with SendDestinationNumberVerificationCode", v.Number)
		case !s.now().Before(v.CodeExpires):
			return conflict(sv.ConflictExceptionReasonVerificationCodeExpired, sv.ResourceTypeVerifiedDestinationNumber, v.ID,
				"The verification code of %s has expired: send a new one", v.Number)
		}
		if subtle.ConstantTimeCompare([]byte(hashCode(v.CodeSalt, str(in.VerificationCode))), []byte(v.CodeHash)) != 1 {
			v.Attempts++
			left := MaxCodeAttempts - v.Attempts
			if left <= 0 {
				v.CodeSalt, v.CodeHash, v.CodeExpires, v.Attempts = "", "", time.Time{}, 0
			}
			// The attempt is committed; the error is returned after.
			mismatch = &fault.Error{Kind: fault.Invalid, Reason: string(sv.ValidationExceptionReasonVerificationCodeMismatch),
				Message: fmt.Sprintf("The verification code is wrong (%d attempts left)", max(left, 0))}
			return tx.Update(ctx, v.resource(accountID))
		}
		v.Status, v.VerifiedAt = string(sv.VerificationStatusVerified), s.now()
		v.CodeSalt, v.CodeHash, v.CodeExpires, v.Attempts = "", "", time.Time{}, 0
		return tx.Update(ctx, v.resource(accountID))
	})
	if err != nil {
		return nil, err
	}
	if mismatch != nil {
		return nil, mismatch
	}
	i := v.info()
	return &sv.VerifyDestinationNumberResult{CreatedTimestamp: i.CreatedTimestamp, DestinationPhoneNumber: i.DestinationPhoneNumber,
		Status: i.Status, VerifiedDestinationNumberArn: i.VerifiedDestinationNumberArn, VerifiedDestinationNumberId: i.VerifiedDestinationNumberId}, nil
}

// checkSandbox refuses a send from a SANDBOXED account to a number that is
// neither a verified destination number nor a destination simulator number.
func (s *Service) checkSandbox(ctx context.Context, tx Tx, accountID, dest string) error {
	a, err := s.accountSettings(ctx, tx, accountID)
	if err != nil || a.tier() != TierSandboxed {
		return err
	}
	if _, sim := SimulatorDestinations[dest]; sim {
		return nil
	}
	r, err := tx.GetByName(ctx, accountID, KindVerifiedNumber, dest)
	if err != nil && !fault.Is(err, fault.NotFound) {
		return err
	}
	if err == nil {
		var v verifiedRec
		if err := decode(r, &v); err != nil {
			return err
		}
		if v.Status == string(sv.VerificationStatusVerified) {
			return nil
		}
	}
	return conflict(sv.ConflictExceptionReasonDestinationPhoneNumberNotVerified, sv.ResourceTypeVerifiedDestinationNumber, dest,
		"The account is in the SMS sandbox and %s is not a verified destination number", dest)
}
