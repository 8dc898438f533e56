package sending_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/sending"
)

// fakeRenderer knows the template "otp" ("Code {{code}}"); a missing
// attribute is a rendering error.
type fakeRenderer struct{}

func (fakeRenderer) Render(ctx context.Context, accountID, name, data string) (string, string, string, error) {
	if name != "otp" {
		return "", "", "", fault.NotFoundf("Template %s does not exist", name)
	}
	return fakeRenderer{}.RenderInline(ctx, "Code {{code}}", "<b>{{code}}</b>", "{{code}}", data)
}

func (fakeRenderer) RenderInline(_ context.Context, subject, html, text, data string) (string, string, string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return "", "", "", err
	}
	code, ok := m["code"]
	if !ok {
		return "", "", "", errors.New("Attribute 'code' is not present in the rendering data.")
	}
	r := strings.NewReplacer("{{code}}", code)
	return r.Replace(subject), r.Replace(html), r.Replace(text), nil
}

func TestTemplateSends(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *sending.Config) { c.Renderer = fakeRenderer{} })
	b.verifiedDomain(t, "example.com")
	b.configSetWithEvents(t, "tpl")
	send := func(name, data string) error {
		_, err := b.svc.SendEmail(b.ctx, &sesv2.SendEmailRequest{
			FromEmailAddress: ptr("a@example.com"), ConfigurationSetName: ptr("tpl"),
			Destination: &sesv2.Destination{ToAddresses: []string{"x@dest.example"}},
			Content:     &sesv2.EmailContent{Template: &sesv2.Template{TemplateName: ptr(name), TemplateData: ptr(data)}},
		})
		return err
	}
	require.NoError(t, send("otp", `{"code":"424242"}`))
	require.Eventually(t, func() bool { return len(b.dl.sent()) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Contains(t, string(b.dl.sent()[0]), "Subject: Code 424242")

	var rej *sending.Rejection
	require.True(t, errors.As(send("otp", `{"other":"1"}`), &rej))
	require.Equal(t, sending.ReasonMessageRejected, rej.Reason)
	require.True(t, errors.As(send("otp", `{not json`), &rej))
	require.Equal(t, sending.ReasonBadRequest, rej.Reason)
	require.True(t, errors.As(send("nope", `{}`), &rej))
	require.Equal(t, sending.ReasonTemplateMissing, rej.Reason)

	evs := b.waitEvents(t, 3)
	rf := byType(evs, "Rendering Failure")
	require.NotEmpty(t, rf)
	require.Equal(t, "otp", rf[0]["failure"].(map[string]any)["templateName"])
	require.Contains(t, rf[0]["failure"].(map[string]any)["errorMessage"], "code")

	out, err := b.svc.SendBulkEmail(b.ctx, &sesv2.SendBulkEmailRequest{
		FromEmailAddress: ptr("a@example.com"),
		DefaultContent:   &sesv2.BulkEmailContent{Template: &sesv2.Template{TemplateName: ptr("otp"), TemplateData: ptr(`{"code":"1"}`)}},
		BulkEmailEntries: []sesv2.BulkEmailEntry{
			{Destination: &sesv2.Destination{ToAddresses: []string{"one@dest.example"}}},
			{Destination: &sesv2.Destination{ToAddresses: []string{"two@dest.example"}}, ReplacementEmailContent: &sesv2.ReplacementEmailContent{ReplacementTemplate: &sesv2.ReplacementTemplate{ReplacementTemplateData: ptr(`{"code":"2"}`)}}},
			{Destination: &sesv2.Destination{ToAddresses: []string{"bad address"}}},
		},
	})
	require.NoError(t, err)
	require.Len(t, out.BulkEmailEntryResults, 3)
	require.Equal(t, sesv2.BulkEmailStatusSuccess, *out.BulkEmailEntryResults[0].Status)
	require.Equal(t, sesv2.BulkEmailStatusSuccess, *out.BulkEmailEntryResults[1].Status)
	require.Equal(t, sesv2.BulkEmailStatusInvalidParameter, *out.BulkEmailEntryResults[2].Status)
	require.Eventually(t, func() bool { return len(b.dl.sent()) == 3 }, 10*time.Second, 20*time.Millisecond)
	var subjects []string
	for _, m := range b.dl.sent()[1:] {
		for _, l := range strings.Split(string(m), "\r\n") {
			if strings.HasPrefix(l, "Subject: ") {
				subjects = append(subjects, l)
			}
		}
	}
	require.ElementsMatch(t, []string{"Subject: Code 1", "Subject: Code 2"}, subjects)
}

func TestTemplatesOff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	_, err := b.svc.SendEmail(b.ctx, &sesv2.SendEmailRequest{
		FromEmailAddress: ptr("a@example.com"), Destination: &sesv2.Destination{ToAddresses: []string{"x@dest.example"}},
		Content: &sesv2.EmailContent{Template: &sesv2.Template{TemplateName: ptr("otp"), TemplateData: ptr(`{}`)}},
	})
	var rej *sending.Rejection
	require.True(t, errors.As(err, &rej), "%v", err)
	require.Contains(t, rej.Message, "not available")
}
