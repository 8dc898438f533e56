package templates_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/store/storetest"
	"github.com/tidings/tidings/internal/templates"
)

const acct = "111122223333"

func setup(t *testing.T) (*templates.Service, context.Context) {
	t.Helper()
	db := storetest.OpenSQLite(t)
	return templates.New(db.Templates(), templates.Config{Hostname: "test.example"}, nil), context.Background()
}

func reason(err error) string {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return ""
}

func TestRender(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	require.NoError(t, s.Create(ctx, &templates.Template{AccountID: acct, Name: "MyTemplate",
		Subject: "Greetings, {{name}}!",
		HTML:    "<h1>Hello {{name}},</h1><p>Your favorite animal is {{favoriteanimal}}.</p>",
		Text:    "Dear {{name}},\r\nYour favorite animal is {{favoriteanimal}}."}))

	subj, html, text, err := s.Render(ctx, acct, "MyTemplate", `{ "name":"Alejandro <A&B>", "favoriteanimal": "alligator" }`)
	require.NoError(t, err)
	require.Equal(t, "Greetings, Alejandro <A&B>!", subj)
	require.Equal(t, "<h1>Hello Alejandro &lt;A&amp;B&gt;,</h1><p>Your favorite animal is alligator.</p>", html)
	require.Equal(t, "Dear Alejandro <A&B>,\r\nYour favorite animal is alligator.", text)

	_, _, _, err = s.Render(ctx, acct, "Nope", `{}`)
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	require.Equal(t, "Template Nope does not exist.", err.Error())
	_, _, _, err = s.Render(ctx, "999999999999", "MyTemplate", `{}`)
	require.True(t, fault.Is(err, fault.NotFound), "templates are per account")

	_, _, _, err = s.Render(ctx, acct, "MyTemplate", `{"name":`)
	require.True(t, fault.Is(err, fault.Invalid))
	require.Equal(t, templates.ReasonInvalidData, reason(err))
	require.Contains(t, err.Error(), "not valid JSON")
	_, _, _, err = s.Render(ctx, acct, "MyTemplate", `["a"]`)
	require.Equal(t, templates.ReasonInvalidData, reason(err))

	_, _, _, err = s.Render(ctx, acct, "MyTemplate", `{"name":"x"}`)
	require.Equal(t, templates.ReasonMissingAttribute, reason(err))
	require.Equal(t, "Attribute 'favoriteanimal' is not present in the rendering data (template MyTemplate, HTML part, 1:54).", err.Error())
}

func TestRenderInline(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	subj, html, text, err := s.RenderInline(ctx, "Hi {{user.first}}\nBcc: x@evil", "{{#each items}}<li>{{this}}</li>{{/each}}", "", `{"user":{"first":"Jo"},"items":["a","<b>"]}`)
	require.NoError(t, err)
	require.Equal(t, "Hi Jo Bcc: x@evil", subj, "a line break cannot reach the header")
	require.Equal(t, "<li>a</li><li>&lt;b&gt;</li>", html)
	require.Equal(t, "", text)

	_, _, _, err = s.RenderInline(ctx, "{{#if x}}", "", "", `{}`)
	require.Equal(t, templates.ReasonInvalidTemplate, reason(err))
	require.Contains(t, err.Error(), "line 1:1: {{#if x}} is never closed")
	_, _, _, err = s.RenderInline(ctx, "{{> missing}}", "", "", `{}`)
	require.Equal(t, templates.ReasonInvalidTemplate, reason(err))
	_, _, _, err = s.RenderInline(ctx, strings.Repeat("x", templates.MaxTemplateBytes+1), "", "", `{}`)
	require.True(t, fault.Is(err, fault.Invalid))
}

func TestValidation(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	for _, name := range []string{"", "has space", "dot.name", "ünï", strings.Repeat("a", 65)} {
		err := s.Create(ctx, &templates.Template{AccountID: acct, Name: name, Text: "x"})
		require.True(t, fault.Is(err, fault.Invalid), "%q: %v", name, err)
	}
	require.NoError(t, s.Create(ctx, &templates.Template{AccountID: acct, Name: "A-b_9" + strings.Repeat("z", 59), Text: "x"}))

	big := strings.Repeat("x", templates.MaxTemplateBytes/2)
	err := s.Create(ctx, &templates.Template{AccountID: acct, Name: "big", HTML: big, Text: big, Subject: "s"})
	require.True(t, fault.Is(err, fault.Invalid))
	require.Contains(t, err.Error(), "500 KB")
	require.NoError(t, s.Create(ctx, &templates.Template{AccountID: acct, Name: "big", HTML: big, Text: big}))

	err = s.Create(ctx, &templates.Template{AccountID: acct, Name: "bad", HTML: "<p>{{#each xs}}</p>"})
	require.Equal(t, templates.ReasonInvalidTemplate, reason(err))
	require.Contains(t, err.Error(), "The HTML part of template bad is not valid Handlebars: line 1:4")

	err = s.Update(ctx, &templates.Template{AccountID: acct, Name: "nope", Text: "x"})
	require.True(t, fault.Is(err, fault.NotFound))
	err = s.Update(ctx, &templates.Template{AccountID: acct, Name: "big", Text: "{{/if}}"})
	require.Equal(t, templates.ReasonInvalidTemplate, reason(err))
}

func TestList(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	for _, n := range []string{"c", "a", "e", "b", "d"} {
		require.NoError(t, s.Create(ctx, &templates.Template{AccountID: acct, Name: n}))
	}
	var names []string
	token := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		ts, next, err := s.List(ctx, acct, token, 2)
		require.NoError(t, err)
		for _, tp := range ts {
			names = append(names, tp.Name)
		}
		if next == "" {
			break
		}
		token = next
	}
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, names)
	ts, next, err := s.List(ctx, acct, "", 0)
	require.NoError(t, err)
	require.Len(t, ts, 5)
	require.Empty(t, next)
	_, _, err = s.List(ctx, acct, "garbage", 2)
	require.True(t, fault.Is(err, fault.Invalid))
	_, _, err = s.List(ctx, acct, "", -1)
	require.True(t, fault.Is(err, fault.Invalid))
}

func TestTestRender(t *testing.T) {
	t.Parallel()
	s, ctx := setup(t)
	require.NoError(t, s.Create(ctx, &templates.Template{AccountID: acct, Name: "t",
		Subject: "Olá {{name}}", HTML: "<p>Olá {{name}}</p>", Text: "Hello {{name}}"}))
	raw, err := s.TestRender(ctx, acct, "t", `{"name":"João"}`)
	require.NoError(t, err)
	m, err := mail.ReadMessage(strings.NewReader(raw))
	require.NoError(t, err)
	subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "Olá João", subj)
	require.Regexp(t, `^<[0-9a-f]{32}@test\.example>$`, m.Header.Get("Message-ID"))
	_, err = mail.ParseDate(m.Header.Get("Date"))
	require.NoError(t, err)
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mt)
	mr := multipart.NewReader(m.Body, params["boundary"])
	var bodies, types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p) // multipart decodes quoted-printable
		require.NoError(t, err)
		types = append(types, p.Header.Get("Content-Type"))
		bodies = append(bodies, string(b))
	}
	require.Equal(t, []string{"text/plain; charset=UTF-8", "text/html; charset=UTF-8"}, types)
	require.Equal(t, []string{"Hello João", "<p>Olá João</p>"}, bodies)

	_, err = s.TestRender(ctx, acct, "t", `{}`)
	require.Equal(t, templates.ReasonMissingAttribute, reason(err))
}

// The send pipeline (internal/sending) consumes the service through this
// interface of its own; the assertion keeps the two in step.
var _ interface {
	Render(ctx context.Context, accountID, templateName, templateDataJSON string) (subject, html, text string, err error)
	RenderInline(ctx context.Context, subject, html, text, templateDataJSON string) (string, string, string, error)
} = (*templates.Service)(nil)

// BenchmarkRender is a templated send's rendering: the template read from
// the store (SQLite), the data parsed, three parts rendered.
func BenchmarkRender(b *testing.B) {
	db := storetest.OpenSQLite(b)
	s := templates.New(db.Templates(), templates.Config{}, nil)
	ctx := context.Background()
	if err := s.Create(ctx, &templates.Template{AccountID: acct, Name: "otp", Subject: "Your code: {{code}}",
		HTML: "<p>Hello {{name}}, your code is <b>{{code}}</b>.</p>", Text: "Hello {{name}}, your code is {{code}}."}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, _, err := s.Render(ctx, acct, "otp", `{"name":"Ana","code":"123456"}`); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
