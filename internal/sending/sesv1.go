package sending

import (
	"context"
	"encoding/json"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/ses"
	"github.com/tidings/tidings/internal/model/sesv2"
)

// The SES v1 API (awsQuery) over the same identities and pipeline. v1
// verifies a domain by the TXT record _amazonses.<domain> holding the
// VerificationToken, or by DKIM; both are checked by the same job.

func v1Tags(tags []ses.MessageTag) []sesv2.MessageTag {
	out := make([]sesv2.MessageTag, 0, len(tags))
	for _, t := range tags {
		out = append(out, sesv2.MessageTag{Name: t.Name, Value: t.Value})
	}
	return out
}

func v1Destination(d *ses.Destination) *sesv2.Destination {
	if d == nil {
		return nil
	}
	return &sesv2.Destination{ToAddresses: d.ToAddresses, CcAddresses: d.CcAddresses, BccAddresses: d.BccAddresses}
}

func v1Content(c *ses.Content) *sesv2.Content {
	if c == nil {
		return nil
	}
	return &sesv2.Content{Data: c.Data, Charset: c.Charset}
}

// ensureIdentity creates an identity unless it exists (v1's Verify*
// calls are idempotent) and returns its record.
func (s *Service) ensureIdentity(ctx context.Context, raw string) (*identityRecord, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	_, err = s.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: &raw})
	if err != nil && !fault.Is(err, fault.Conflict) {
		return nil, err
	}
	_, _, rec, err := s.getIdentity(ctx, acct, raw)
	return rec, err
}

// VerifyEmailIdentity starts (or restarts) the verification of an address.
func (s *Service) VerifyEmailIdentity(ctx context.Context, in *ses.VerifyEmailIdentityRequest) (*ses.VerifyEmailIdentityResponse, error) {
	name, typ, err := normalizeIdentity(str(in.EmailAddress))
	if err != nil {
		return nil, err
	}
	if typ != TypeEmail {
		return nil, fault.Invalidf("Invalid email address %q", str(in.EmailAddress))
	}
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := s.ensureIdentity(ctx, name)
	if err != nil {
		return nil, err
	}
	if rec.Status != StatusSuccess {
		// As SES: asking again mails the link again.
		if err := s.st.InTx(ctx, func(tx Tx) error { return tx.Enqueue(ctx, ConfirmArgs{AccountID: acct, Address: name}) }); err != nil {
			return nil, err
		}
	}
	return &ses.VerifyEmailIdentityResponse{}, nil
}

// VerifyEmailAddress is the older name of VerifyEmailIdentity.
func (s *Service) VerifyEmailAddress(ctx context.Context, in *ses.VerifyEmailAddressRequest) (*struct{}, error) {
	_, err := s.VerifyEmailIdentity(ctx, &ses.VerifyEmailIdentityRequest{EmailAddress: in.EmailAddress})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

// VerifyDomainIdentity creates a domain identity (if needed) and returns
// the token to publish at _amazonses.<domain>.
func (s *Service) VerifyDomainIdentity(ctx context.Context, in *ses.VerifyDomainIdentityRequest) (*ses.VerifyDomainIdentityResponse, error) {
	if _, typ, err := normalizeIdentity(str(in.Domain)); err != nil || typ != TypeDomain {
		return nil, fault.Invalidf("Invalid domain name %q", str(in.Domain))
	}
	rec, err := s.ensureIdentity(ctx, str(in.Domain))
	if err != nil {
		return nil, err
	}
	return &ses.VerifyDomainIdentityResponse{VerificationToken: ptr(rec.VerificationToken)}, nil
}

// VerifyDomainDkim returns the DKIM tokens (selectors) of a domain,
// creating the identity and its key if needed.
func (s *Service) VerifyDomainDkim(ctx context.Context, in *ses.VerifyDomainDkimRequest) (*ses.VerifyDomainDkimResponse, error) {
	if _, typ, err := normalizeIdentity(str(in.Domain)); err != nil || typ != TypeDomain {
		return nil, fault.Invalidf("Invalid domain name %q", str(in.Domain))
	}
	rec, err := s.ensureIdentity(ctx, str(in.Domain))
	if err != nil {
		return nil, err
	}
	out := &ses.VerifyDomainDkimResponse{DkimTokens: []string{}}
	if rec.DKIM != nil {
		out.DkimTokens = append(out.DkimTokens, rec.DKIM.Tokens...)
	}
	return out, nil
}

// ListIdentities pages through identities, of one type when asked.
func (s *Service) ListIdentities(ctx context.Context, in *ses.ListIdentitiesRequest) (*ses.ListIdentitiesResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	max := 1000
	if in.MaxItems != nil && *in.MaxItems > 0 && *in.MaxItems < 1000 {
		max = int(*in.MaxItems)
	}
	after, err := decodeToken(str(in.NextToken))
	if err != nil {
		return nil, err
	}
	want := ""
	switch deref(in.IdentityType) {
	case ses.IdentityTypeEmailAddress:
		want = TypeEmail
	case ses.IdentityTypeDomain:
		want = TypeDomain
	}
	out := &ses.ListIdentitiesResponse{Identities: []string{}}
	err = s.walkIdentities(ctx, acct, after, func(name string, rec *identityRecord) bool {
		if want != "" && rec.Type != want {
			return true
		}
		if len(out.Identities) == max {
			out.NextToken = ptr(encodeToken(out.Identities[max-1]))
			return false
		}
		out.Identities = append(out.Identities, name)
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// walkIdentities calls fn with the account's identities in name order,
// from after the name after, until fn returns false.
func (s *Service) walkIdentities(ctx context.Context, acct, after string, fn func(name string, rec *identityRecord) bool) error {
	for {
		rows, err := s.st.List(ctx, acct, KindIdentity, after, 1000)
		if err != nil {
			return err
		}
		for _, r := range rows {
			after = r.Name
			rec, err := decodeIdentity(&r)
			if err != nil {
				return err
			}
			if !fn(r.Name, rec) {
				return nil
			}
		}
		if len(rows) < 1000 {
			return nil
		}
	}
}

// v1Status is the v1 spelling of a verification status.
func v1Status(st string) ses.VerificationStatus {
	switch st {
	case StatusSuccess:
		return "Success"
	case StatusFailed:
		return "Failed"
	case StatusTempFail:
		return "TemporaryFailure"
	case StatusNotStarted:
		return "NotStarted"
	}
	return "Pending"
}

// eachIdentity calls fn with each identity of names that exists; the
// others are left out, as SES does.
func (s *Service) eachIdentity(ctx context.Context, names []string, fn func(name string, rec *identityRecord)) error {
	acct, err := account(ctx)
	if err != nil {
		return err
	}
	for _, id := range names {
		_, _, rec, err := s.getIdentity(ctx, acct, id)
		if fault.Is(err, fault.NotFound) || fault.Is(err, fault.Invalid) {
			continue
		}
		if err != nil {
			return err
		}
		fn(id, rec)
	}
	return nil
}

// GetIdentityVerificationAttributes reports the status (and domain token)
// of each identity asked.
func (s *Service) GetIdentityVerificationAttributes(ctx context.Context, in *ses.GetIdentityVerificationAttributesRequest) (*ses.GetIdentityVerificationAttributesResponse, error) {
	out := &ses.GetIdentityVerificationAttributesResponse{VerificationAttributes: map[string]ses.IdentityVerificationAttributes{}}
	err := s.eachIdentity(ctx, in.Identities, func(id string, rec *identityRecord) {
		a := ses.IdentityVerificationAttributes{VerificationStatus: ptr(v1Status(rec.Status))}
		if rec.VerificationToken != "" {
			a.VerificationToken = ptr(rec.VerificationToken)
		}
		out.VerificationAttributes[id] = a
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetIdentityDkimAttributes reports DKIM of each identity asked.
func (s *Service) GetIdentityDkimAttributes(ctx context.Context, in *ses.GetIdentityDkimAttributesRequest) (*ses.GetIdentityDkimAttributesResponse, error) {
	out := &ses.GetIdentityDkimAttributesResponse{DkimAttributes: map[string]ses.IdentityDkimAttributes{}}
	err := s.eachIdentity(ctx, in.Identities, func(id string, rec *identityRecord) {
		a := ses.IdentityDkimAttributes{DkimEnabled: ptr(rec.SigningEnabled), DkimVerificationStatus: ptr(ses.VerificationStatus("NotStarted"))}
		if rec.DKIM != nil {
			a.DkimTokens = append([]string{}, rec.DKIM.Tokens...)
			a.DkimVerificationStatus = ptr(v1Status(rec.DKIMStatus))
		}
		out.DkimAttributes[id] = a
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteIdentity deletes an identity; deleting one that does not exist
// succeeds, as in SES v1.
func (s *Service) DeleteIdentity(ctx context.Context, in *ses.DeleteIdentityRequest) (*ses.DeleteIdentityResponse, error) {
	_, err := s.DeleteEmailIdentity(ctx, &sesv2.DeleteEmailIdentityRequest{EmailIdentity: in.Identity})
	if err != nil && !fault.Is(err, fault.NotFound) {
		return nil, err
	}
	return &ses.DeleteIdentityResponse{}, nil
}

// GetSendQuota is the v1 view of the account's quota.
func (s *Service) GetSendQuota(ctx context.Context, _ *struct{}) (*ses.GetSendQuotaResponse, error) {
	a, err := s.GetAccount(ctx, &sesv2.GetAccountRequest{})
	if err != nil {
		return nil, err
	}
	q := a.SendQuota
	return &ses.GetSendQuotaResponse{Max24HourSend: q.Max24HourSend, MaxSendRate: q.MaxSendRate, SentLast24Hours: q.SentLast24Hours}, nil
}

// GetAccountSendingEnabled reports whether the account may send.
func (s *Service) GetAccountSendingEnabled(ctx context.Context, _ *struct{}) (*ses.GetAccountSendingEnabledResponse, error) {
	a, err := s.GetAccount(ctx, &sesv2.GetAccountRequest{})
	if err != nil {
		return nil, err
	}
	return &ses.GetAccountSendingEnabledResponse{Enabled: a.SendingEnabled}, nil
}

// UpdateAccountSendingEnabled pauses or resumes the account's sending.
func (s *Service) UpdateAccountSendingEnabled(ctx context.Context, in *ses.UpdateAccountSendingEnabledRequest) (*struct{}, error) {
	_, err := s.PutAccountSendingAttributes(ctx, &sesv2.PutAccountSendingAttributesRequest{SendingEnabled: ptr(deref(in.Enabled))})
	if err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (s *Service) sendV2(ctx context.Context, in *sesv2.SendEmailRequest) (string, error) {
	out, err := s.SendEmail(ctx, in)
	if err != nil {
		return "", err
	}
	return *out.MessageId, nil
}

// SendEmailV1 is the SES v1 SendEmail.
func (s *Service) SendEmailV1(ctx context.Context, in *ses.SendEmailRequest) (*ses.SendEmailResponse, error) {
	m := deref(in.Message)
	body := deref(m.Body)
	id, err := s.sendV2(ctx, &sesv2.SendEmailRequest{
		FromEmailAddress: in.Source, Destination: v1Destination(in.Destination), ReplyToAddresses: in.ReplyToAddresses,
		ConfigurationSetName: in.ConfigurationSetName, EmailTags: v1Tags(in.Tags),
		Content: &sesv2.EmailContent{Simple: &sesv2.Message{
			Subject: v1Content(m.Subject),
			Body:    &sesv2.Body{Text: v1Content(body.Text), Html: v1Content(body.Html)},
		}},
	})
	if err != nil {
		return nil, err
	}
	return &ses.SendEmailResponse{MessageId: &id}, nil
}

// SendRawEmail is the SES v1 SendRawEmail: Destinations, when given, are
// the envelope recipients; else the To, Cc and Bcc of the message.
func (s *Service) SendRawEmail(ctx context.Context, in *ses.SendRawEmailRequest) (*ses.SendRawEmailResponse, error) {
	req := &sesv2.SendEmailRequest{
		FromEmailAddress: in.Source, ConfigurationSetName: in.ConfigurationSetName, EmailTags: v1Tags(in.Tags),
		Content: &sesv2.EmailContent{Raw: &sesv2.RawMessage{Data: deref(in.RawMessage).Data}},
	}
	if len(in.Destinations) > 0 {
		req.Destination = &sesv2.Destination{ToAddresses: in.Destinations}
	}
	id, err := s.sendV2(ctx, req)
	if err != nil {
		return nil, err
	}
	return &ses.SendRawEmailResponse{MessageId: &id}, nil
}

// SendSMTP sends a message submitted over SMTP (SES's SMTP interface) as
// a SendRawEmail: the envelope recipients are the RCPT TO addresses; the
// From header and the envelope sender (MAIL FROM, "" for the null path)
// must both be verified identities; X-SES-CONFIGURATION-SET and
// X-SES-MESSAGE-TAGS are honoured and removed. The caller's account is
// the principal of ctx.
func (s *Service) SendSMTP(ctx context.Context, mailFrom string, recipients []string, raw []byte) (string, error) {
	o, err := s.Outgoing(ctx, &sesv2.SendEmailRequest{
		Content:     &sesv2.EmailContent{Raw: &sesv2.RawMessage{Data: raw}},
		Destination: &sesv2.Destination{BccAddresses: recipients},
	})
	if err != nil {
		return "", err
	}
	o.EnvelopeFrom, o.Operation = mailFrom, "SendSmtpEmail"
	return s.Accept(ctx, o)
}

// SendTemplatedEmail is the SES v1 SendTemplatedEmail (rendered by the
// TemplateRenderer).
func (s *Service) SendTemplatedEmail(ctx context.Context, in *ses.SendTemplatedEmailRequest) (*ses.SendTemplatedEmailResponse, error) {
	id, err := s.sendV2(ctx, &sesv2.SendEmailRequest{
		FromEmailAddress: in.Source, Destination: v1Destination(in.Destination), ReplyToAddresses: in.ReplyToAddresses,
		ConfigurationSetName: in.ConfigurationSetName, EmailTags: v1Tags(in.Tags),
		Content: &sesv2.EmailContent{Template: &sesv2.Template{TemplateName: in.Template, TemplateData: in.TemplateData}},
	})
	if err != nil {
		return nil, err
	}
	return &ses.SendTemplatedEmailResponse{MessageId: &id}, nil
}

// SendBulkTemplatedEmail sends one templated message per destination; each
// gets its own status, as SES answers.
func (s *Service) SendBulkTemplatedEmail(ctx context.Context, in *ses.SendBulkTemplatedEmailRequest) (*ses.SendBulkTemplatedEmailResponse, error) {
	if len(in.Destinations) == 0 || len(in.Destinations) > MaxRecipients {
		return nil, reject(ReasonBadRequest, "Destinations must have 1 to %d entries", MaxRecipients)
	}
	if !json.Valid([]byte(str(in.DefaultTemplateData))) {
		return nil, reject(ReasonBadRequest, "DefaultTemplateData is not valid JSON")
	}
	out := &ses.SendBulkTemplatedEmailResponse{Status: []ses.BulkEmailDestinationStatus{}}
	for _, d := range in.Destinations {
		data := str(in.DefaultTemplateData)
		if r := str(d.ReplacementTemplateData); r != "" {
			data = mergeJSON(data, r)
		}
		tags := in.DefaultTags
		if len(d.ReplacementTags) > 0 {
			tags = d.ReplacementTags
		}
		id, err := s.sendV2(ctx, &sesv2.SendEmailRequest{
			FromEmailAddress: in.Source, Destination: v1Destination(d.Destination), ReplyToAddresses: in.ReplyToAddresses,
			ConfigurationSetName: in.ConfigurationSetName, EmailTags: v1Tags(tags),
			Content: &sesv2.EmailContent{Template: &sesv2.Template{TemplateName: in.Template, TemplateData: &data}},
		})
		out.Status = append(out.Status, bulkStatus(id, err))
	}
	return out, nil
}

func bulkStatus(id string, err error) ses.BulkEmailDestinationStatus {
	if err == nil {
		return ses.BulkEmailDestinationStatus{Status: ptr(ses.BulkEmailStatus("Success")), MessageId: &id}
	}
	st := "Failed"
	if r, ok := err.(*Rejection); ok {
		switch r.Reason {
		case ReasonMessageRejected:
			st = "MessageRejected"
		case ReasonMailFromNotVerify:
			st = "MailFromDomainNotVerified"
		case ReasonConfigSetPaused:
			st = "ConfigurationSetSendingPaused"
		case ReasonAccountPaused:
			st = "AccountSendingPaused"
		case ReasonTemplateMissing:
			st = "TemplateDoesNotExist"
		case ReasonBadRequest:
			st = "InvalidParameterValue"
		}
		return ses.BulkEmailDestinationStatus{Status: ptr(ses.BulkEmailStatus(st)), Error: ptr(r.Message)}
	}
	if fault.Is(err, fault.NotFound) {
		st = "ConfigurationSetDoesNotExist"
	}
	return ses.BulkEmailDestinationStatus{Status: ptr(ses.BulkEmailStatus(st)), Error: ptr(err.Error())}
}

// mergeJSON overlays the members of the object over on those of base
// (both JSON objects); invalid input leaves base.
func mergeJSON(base, over string) string {
	var b, o map[string]any
	if json.Unmarshal([]byte(base), &b) != nil || b == nil {
		b = map[string]any{}
	}
	if json.Unmarshal([]byte(over), &o) != nil {
		return over
	}
	for k, v := range o {
		b[k] = v
	}
	out, _ := json.Marshal(b)
	return string(out)
}
