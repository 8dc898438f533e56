package sending

import (
	"context"
	"encoding/json"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
)

// SendBulkEmail sends the default template to each entry, with the
// entry's replacement data (merged over the default), tags and headers.
// Each entry is accepted or refused on its own, as SES answers.
func (s *Service) SendBulkEmail(ctx context.Context, in *sesv2.SendBulkEmailRequest) (*sesv2.SendBulkEmailResponse, error) {
	if len(in.BulkEmailEntries) == 0 || len(in.BulkEmailEntries) > MaxRecipients {
		return nil, reject(ReasonBadRequest, "BulkEmailEntries must have 1 to %d entries", MaxRecipients)
	}
	t := deref(in.DefaultContent).Template
	if t == nil {
		return nil, reject(ReasonBadRequest, "DefaultContent.Template is required")
	}
	def := str(t.TemplateData)
	if def == "" {
		def = "{}"
	}
	if !json.Valid([]byte(def)) {
		return nil, reject(ReasonBadRequest, "The default TemplateData is not valid JSON")
	}
	out := &sesv2.SendBulkEmailResponse{BulkEmailEntryResults: []sesv2.BulkEmailEntryResult{}}
	for _, e := range in.BulkEmailEntries {
		data := def
		if r := e.ReplacementEmailContent; r != nil && r.ReplacementTemplate != nil && r.ReplacementTemplate.ReplacementTemplateData != nil {
			rd := str(r.ReplacementTemplate.ReplacementTemplateData)
			if !json.Valid([]byte(rd)) {
				out.BulkEmailEntryResults = append(out.BulkEmailEntryResults, sesv2.BulkEmailEntryResult{
					Status: ptr(sesv2.BulkEmailStatusInvalidParameter), Error: ptr("ReplacementTemplateData is not valid JSON")})
				continue
			}
			data = mergeJSON(def, rd)
		}
		tags := in.DefaultEmailTags
		if len(e.ReplacementTags) > 0 {
			tags = e.ReplacementTags
		}
		tpl := *t
		tpl.TemplateData = &data
		if len(e.ReplacementHeaders) > 0 {
			tpl.Headers = e.ReplacementHeaders
		}
		res, err := s.SendEmail(ctx, &sesv2.SendEmailRequest{
			FromEmailAddress: in.FromEmailAddress, Destination: e.Destination, ReplyToAddresses: in.ReplyToAddresses,
			ConfigurationSetName: in.ConfigurationSetName, EmailTags: tags,
			Content: &sesv2.EmailContent{Template: &tpl},
		})
		if err == nil {
			out.BulkEmailEntryResults = append(out.BulkEmailEntryResults, sesv2.BulkEmailEntryResult{Status: ptr(sesv2.BulkEmailStatusSuccess), MessageId: res.MessageId})
			continue
		}
		out.BulkEmailEntryResults = append(out.BulkEmailEntryResults, bulkResultV2(err))
	}
	return out, nil
}

func bulkResultV2(err error) sesv2.BulkEmailEntryResult {
	st := sesv2.BulkEmailStatusFailed
	msg := err.Error()
	if r, ok := err.(*Rejection); ok {
		msg = r.Message
		switch r.Reason {
		case ReasonMessageRejected:
			st = sesv2.BulkEmailStatusMessageRejected
		case ReasonMailFromNotVerify:
			st = sesv2.BulkEmailStatusMailFromDomainNotVerified
		case ReasonConfigSetPaused:
			st = sesv2.BulkEmailStatusConfigurationSetSendingPaused
		case ReasonAccountPaused:
			st = sesv2.BulkEmailStatusAccountSendingPaused
		case ReasonTemplateMissing:
			st = sesv2.BulkEmailStatusTemplateNotFound
		case ReasonBadRequest:
			st = sesv2.BulkEmailStatusInvalidParameter
		}
	} else {
		switch {
		case fault.Is(err, fault.NotFound):
			st = sesv2.BulkEmailStatusConfigurationSetNotFound
		case fault.Is(err, fault.Throttled):
			st = sesv2.BulkEmailStatusAccountThrottled
		case fault.Is(err, fault.Invalid):
			st = sesv2.BulkEmailStatusInvalidParameter
		case fault.Is(err, fault.Unavailable):
			st = sesv2.BulkEmailStatusTransientFailure
		}
	}
	return sesv2.BulkEmailEntryResult{Status: ptr(st), Error: ptr(msg)}
}
