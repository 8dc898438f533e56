package apiroutes

import (
	"context"
	"errors"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/model/ses"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/model/smithy"
	"github.com/tidings/tidings/internal/templates"
)

// Templates registers the email template operations of SES v2
// (CreateEmailTemplate…) and SES v1 (CreateTemplate…). Domain faults map
// to each API's exceptions in awsapi; the v1 exceptions the kind alone
// does not give (InvalidTemplate, InvalidRenderingParameter,
// MissingRenderingAttribute) are chosen here from the fault's Reason.
func Templates(srv *awsapi.Server, s *templates.Service) {
	h := tplHandlers{s}
	awsapi.Handle(srv, sesv2.Service, "CreateEmailTemplate", h.createV2)
	awsapi.Handle(srv, sesv2.Service, "GetEmailTemplate", h.getV2)
	awsapi.Handle(srv, sesv2.Service, "UpdateEmailTemplate", h.updateV2)
	awsapi.Handle(srv, sesv2.Service, "DeleteEmailTemplate", h.deleteV2)
	awsapi.Handle(srv, sesv2.Service, "ListEmailTemplates", h.listV2)
	awsapi.Handle(srv, sesv2.Service, "TestRenderEmailTemplate", h.testRenderV2)

	awsapi.Handle(srv, ses.Service, "CreateTemplate", h.createV1)
	awsapi.Handle(srv, ses.Service, "GetTemplate", h.getV1)
	awsapi.Handle(srv, ses.Service, "UpdateTemplate", h.updateV1)
	awsapi.Handle(srv, ses.Service, "DeleteTemplate", h.deleteV1)
	awsapi.Handle(srv, ses.Service, "ListTemplates", h.listV1)
	awsapi.Handle(srv, ses.Service, "TestRenderTemplate", h.testRenderV1)
}

type tplHandlers struct{ s *templates.Service }

func callerAccount(ctx context.Context) (string, error) {
	p, ok := iam.PrincipalFrom(ctx)
	if !ok || p.AccountID == "" {
		return "", fault.AccessDeniedf("no caller identity in the request")
	}
	return p.AccountID, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// optional is nil for "", so that an absent part stays absent.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// SES v2.

func (h tplHandlers) v2Template(ctx context.Context, name *string, c *sesv2.EmailTemplateContent, tags []sesv2.Tag) (*templates.Template, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	t := &templates.Template{AccountID: acct, Name: deref(name)}
	if c != nil {
		t.Subject, t.HTML, t.Text = deref(c.Subject), deref(c.Html), deref(c.Text)
	}
	for _, tg := range tags {
		t.Tags = append(t.Tags, templates.Tag{Key: deref(tg.Key), Value: deref(tg.Value)})
	}
	return t, nil
}

func (h tplHandlers) createV2(ctx context.Context, in *sesv2.CreateEmailTemplateRequest) (*sesv2.CreateEmailTemplateResponse, error) {
	t, err := h.v2Template(ctx, in.TemplateName, in.TemplateContent, in.Tags)
	if err != nil {
		return nil, err
	}
	return &sesv2.CreateEmailTemplateResponse{}, h.s.Create(ctx, t)
}

func (h tplHandlers) getV2(ctx context.Context, in *sesv2.GetEmailTemplateRequest) (*sesv2.GetEmailTemplateResponse, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	t, err := h.s.Get(ctx, acct, deref(in.TemplateName))
	if err != nil {
		return nil, err
	}
	out := &sesv2.GetEmailTemplateResponse{
		TemplateName:    &t.Name,
		TemplateContent: &sesv2.EmailTemplateContent{Subject: optional(t.Subject), Html: optional(t.HTML), Text: optional(t.Text)},
	}
	for _, tg := range t.Tags {
		out.Tags = append(out.Tags, sesv2.Tag{Key: &tg.Key, Value: &tg.Value})
	}
	return out, nil
}

func (h tplHandlers) updateV2(ctx context.Context, in *sesv2.UpdateEmailTemplateRequest) (*sesv2.UpdateEmailTemplateResponse, error) {
	t, err := h.v2Template(ctx, in.TemplateName, in.TemplateContent, nil)
	if err != nil {
		return nil, err
	}
	return &sesv2.UpdateEmailTemplateResponse{}, h.s.Update(ctx, t)
}

func (h tplHandlers) deleteV2(ctx context.Context, in *sesv2.DeleteEmailTemplateRequest) (*sesv2.DeleteEmailTemplateResponse, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	return &sesv2.DeleteEmailTemplateResponse{}, h.s.Delete(ctx, acct, deref(in.TemplateName))
}

func pageSize(p *int64) int {
	switch {
	case p == nil:
		return 0
	case *p < 1:
		return -1
	case *p > 1000:
		return 1000
	}
	return int(*p)
}

func (h tplHandlers) listV2(ctx context.Context, in *sesv2.ListEmailTemplatesRequest) (*sesv2.ListEmailTemplatesResponse, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	ts, next, err := h.s.List(ctx, acct, deref(in.NextToken), pageSize(in.PageSize))
	if err != nil {
		return nil, err
	}
	out := &sesv2.ListEmailTemplatesResponse{NextToken: optional(next), TemplatesMetadata: []sesv2.EmailTemplateMetadata{}}
	for _, t := range ts {
		out.TemplatesMetadata = append(out.TemplatesMetadata, sesv2.EmailTemplateMetadata{
			TemplateName: &t.Name, CreatedTimestamp: smithy.NewTime(t.CreatedAt)})
	}
	return out, nil
}

func (h tplHandlers) testRenderV2(ctx context.Context, in *sesv2.TestRenderEmailTemplateRequest) (*sesv2.TestRenderEmailTemplateResponse, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	msg, err := h.s.TestRender(ctx, acct, deref(in.TemplateName), deref(in.TemplateData))
	if err != nil {
		return nil, err
	}
	return &sesv2.TestRenderEmailTemplateResponse{RenderedTemplate: &msg}, nil
}

// SES v1 (awsQuery).

// v1Error turns an Invalid fault into the v1 exception its Reason names;
// other errors pass through to the kind mapping.
func v1Error(err error, name, fallback string) error {
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Kind != fault.Invalid {
		return err
	}
	exc := fallback
	switch fe.Reason {
	case templates.ReasonInvalidData:
		exc = "InvalidRenderingParameterException"
	case templates.ReasonMissingAttribute:
		exc = "MissingRenderingAttributeException"
	case templates.ReasonInvalidTemplate:
		exc = "InvalidTemplateException"
	}
	if exc == "" {
		return err
	}
	return &awsapi.Error{Name: exc, Message: fe.Error(), Fields: map[string]any{"TemplateName": name}}
}

func (h tplHandlers) v1Template(ctx context.Context, in *ses.Template) (*templates.Template, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	if in == nil {
		return nil, fault.Invalidf("Template is required.")
	}
	return &templates.Template{AccountID: acct, Name: deref(in.TemplateName),
		Subject: deref(in.SubjectPart), HTML: deref(in.HtmlPart), Text: deref(in.TextPart)}, nil
}

func (h tplHandlers) createV1(ctx context.Context, in *ses.CreateTemplateRequest) (*ses.CreateTemplateResponse, error) {
	t, err := h.v1Template(ctx, in.Template)
	if err != nil {
		return nil, err
	}
	return &ses.CreateTemplateResponse{}, v1Error(h.s.Create(ctx, t), t.Name, "InvalidTemplateException")
}

func (h tplHandlers) getV1(ctx context.Context, in *ses.GetTemplateRequest) (*ses.GetTemplateResponse, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	t, err := h.s.Get(ctx, acct, deref(in.TemplateName))
	if err != nil {
		return nil, err
	}
	return &ses.GetTemplateResponse{Template: &ses.Template{TemplateName: &t.Name,
		SubjectPart: optional(t.Subject), HtmlPart: optional(t.HTML), TextPart: optional(t.Text)}}, nil
}

func (h tplHandlers) updateV1(ctx context.Context, in *ses.UpdateTemplateRequest) (*ses.UpdateTemplateResponse, error) {
	t, err := h.v1Template(ctx, in.Template)
	if err != nil {
		return nil, err
	}
	return &ses.UpdateTemplateResponse{}, v1Error(h.s.Update(ctx, t), t.Name, "InvalidTemplateException")
}

// deleteV1: SES v1 DeleteTemplate lists no errors and succeeds for a name
// that does not exist.
func (h tplHandlers) deleteV1(ctx context.Context, in *ses.DeleteTemplateRequest) (*ses.DeleteTemplateResponse, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.s.Delete(ctx, acct, deref(in.TemplateName)); err != nil && !fault.Is(err, fault.NotFound) {
		return nil, err
	}
	return &ses.DeleteTemplateResponse{}, nil
}

func (h tplHandlers) listV1(ctx context.Context, in *ses.ListTemplatesRequest) (*ses.ListTemplatesResponse, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	ts, next, err := h.s.List(ctx, acct, deref(in.NextToken), pageSize(in.MaxItems))
	if err != nil {
		return nil, err
	}
	out := &ses.ListTemplatesResponse{NextToken: optional(next), TemplatesMetadata: []ses.TemplateMetadata{}}
	for _, t := range ts {
		out.TemplatesMetadata = append(out.TemplatesMetadata, ses.TemplateMetadata{
			Name: &t.Name, CreatedTimestamp: smithy.NewTime(t.CreatedAt)})
	}
	return out, nil
}

func (h tplHandlers) testRenderV1(ctx context.Context, in *ses.TestRenderTemplateRequest) (*ses.TestRenderTemplateResponse, error) {
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	name := deref(in.TemplateName)
	msg, err := h.s.TestRender(ctx, acct, name, deref(in.TemplateData))
	if err != nil {
		return nil, v1Error(err, name, "")
	}
	return &ses.TestRenderTemplateResponse{RenderedTemplate: &msg}, nil
}
