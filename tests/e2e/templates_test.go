package e2e

import (
	"net/mail"
	"strings"
	"testing"
)

// TestTemplates drives the SES v2 and v1 template operations over the
// wire: boto3 (py/templates.py) and the AWS CLI.
func TestTemplates(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account)
	t.Run("Boto3", func(t *testing.T) {
		t.Parallel()
		runChecks(t, env, 7, pythonBin, scriptPath("e2e", "py", "templates.py"))
	})
	t.Run("CLIv2", func(t *testing.T) {
		t.Parallel()
		content := jsonArg(map[string]any{
			"Subject": "Your code, {{user.name}}",
			"Html":    "<p>{{#each codes}}{{#unless @first}}, {{/unless}}<b>{{this}}</b>{{/each}}</p>",
			"Text":    "Codes: {{#each codes}}{{this}} {{/each}}",
		})
		s.AWS(t, "sesv2", "create-email-template", "--template-name", "cli-otp", "--template-content", content)
		got := s.AWS(t, "sesv2", "get-email-template", "--template-name", "cli-otp")
		eqAt(t, got, "TemplateContent.Subject", "Your code, {{user.name}}")
		out := s.AWS(t, "sesv2", "test-render-email-template", "--template-name", "cli-otp",
			"--template-data", `{"user":{"name":"Kim"},"codes":["123","456"]}`)
		raw := str(t, out, "RenderedTemplate")
		m, err := mail.ReadMessage(strings.NewReader(raw))
		if err != nil {
			t.Fatalf("RenderedTemplate is not a message: %v\n%s", err, raw)
		}
		eq(t, "Subject", "Your code, Kim", m.Header.Get("Subject"))
		if !strings.Contains(raw, "<p><b>123</b>, <b>456</b></p>") || !strings.Contains(raw, "Codes: 123 456 ") {
			t.Errorf("rendered parts missing from:\n%s", raw)
		}
		list := s.AWS(t, "sesv2", "list-email-templates")
		if findBy(list, "TemplatesMetadata", "TemplateName", "cli-otp") == nil {
			t.Errorf("cli-otp not listed: %s", js(list))
		}
		s.AWSFail(t, "AlreadyExistsException", "sesv2", "create-email-template", "--template-name", "cli-otp", "--template-content", content)
		s.AWSFail(t, "BadRequestException", "sesv2", "test-render-email-template", "--template-name", "cli-otp", "--template-data", "not json")
		s.AWS(t, "sesv2", "delete-email-template", "--template-name", "cli-otp")
		s.AWSFail(t, "NotFoundException", "sesv2", "get-email-template", "--template-name", "cli-otp")
	})
	t.Run("CLIv1", func(t *testing.T) {
		t.Parallel()
		s.AWS(t, "ses", "create-template", "--template", jsonArg(map[string]any{
			"TemplateName": "cli-v1", "SubjectPart": "Greetings, {{name}}!",
			"HtmlPart": "<h1>Hello {{name}}</h1>", "TextPart": "Dear {{name}}",
		}))
		out := s.AWS(t, "ses", "test-render-template", "--template-name", "cli-v1", "--template-data", `{"name":"Alejandro"}`)
		raw := str(t, out, "RenderedTemplate")
		if !strings.Contains(raw, "Subject: Greetings, Alejandro!") || !strings.Contains(raw, "<h1>Hello Alejandro</h1>") {
			t.Errorf("RenderedTemplate:\n%s", raw)
		}
		s.AWSFail(t, "MissingRenderingAttribute", "ses", "test-render-template", "--template-name", "cli-v1", "--template-data", `{}`)
		s.AWSFail(t, "AlreadyExists", "ses", "create-template", "--template", `{"TemplateName":"cli-v1","TextPart":"x"}`)
		s.AWS(t, "ses", "delete-template", "--template-name", "cli-v1")
		s.AWSFail(t, "TemplateDoesNotExist", "ses", "get-template", "--template-name", "cli-v1")
	})
}
