// Package templates keeps the email templates of SES (CreateEmailTemplate
// and the v1 CreateTemplate family) and renders them with the Handlebars
// syntax SES uses (package handlebars), for TestRenderEmailTemplate and
// for the send pipeline's templated sends.
package templates

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/templates/handlebars"
)

// SES limits of templates.
const (
	// MaxTemplateBytes is the size of a template's subject, HTML and text
	// together: "each template can be up to 500 KB in size".
	MaxTemplateBytes = 500 * 1024
	// MaxTemplates is the default quota of templates per account and
	// region.
	MaxTemplates = 10000
	// MaxNameLength is the longest template name.
	MaxNameLength = 64
	// MaxDataBytes is the largest TemplateData (EmailTemplateData's max
	// in the SES v2 model).
	MaxDataBytes = 262144

	defaultPageSize = 10
	maxPageSize     = 100
)

// The fault Reasons of render failures, named after the SES v1 exception
// each becomes (the v2 API answers BadRequestException for all three).
const (
	// ReasonInvalidData: the template data is not a JSON object.
	ReasonInvalidData = "InvalidRenderingParameter"
	// ReasonMissingAttribute: a {{value}} of the template is not in the data.
	ReasonMissingAttribute = "MissingRenderingAttribute"
	// ReasonInvalidTemplate: the template does not parse, or cannot render
	// (an unknown partial or helper).
	ReasonInvalidTemplate = "InvalidTemplate"
)

// ResourceType names templates in faults.
const ResourceType = "template"

// namePattern is what SES accepts as a template name: ASCII letters,
// digits, underscores and hyphens.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Config configures a Service.
type Config struct {
	// Hostname is the right side of the Message-ID of TestRender's
	// messages ("tidings.local" if empty).
	Hostname string
	// MaxTemplates overrides the per-account quota (0: MaxTemplates).
	MaxTemplates int
}

// Service is the template domain.
type Service struct {
	store Store
	cfg   Config
	log   *slog.Logger

	// parsed caches the ASTs of template parts by source text, so that a
	// bulk send parses each part once.
	mu     sync.Mutex
	parsed map[string]*handlebars.Template
}

// maxParsed bounds the parse cache; it is emptied when full.
const maxParsed = 1000

// New returns the template service over st.
func New(st Store, cfg Config, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "tidings.local"
	}
	if cfg.MaxTemplates <= 0 {
		cfg.MaxTemplates = MaxTemplates
	}
	return &Service{store: st, cfg: cfg, log: log, parsed: map[string]*handlebars.Template{}}
}

// ValidateName checks a template name against SES's rules.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fault.Invalidf("The template name must not be empty.")
	case len(name) > MaxNameLength:
		return fault.Invalidf("The template name %q is longer than %d characters.", name, MaxNameLength)
	case !namePattern.MatchString(name):
		return fault.Invalidf("The template name %q may contain only ASCII letters, digits, underscores (_) and hyphens (-).", name)
	}
	return nil
}

// validate checks a template's name, size and syntax.
func (s *Service) validate(t *Template) error {
	if err := ValidateName(t.Name); err != nil {
		return err
	}
	if n := len(t.Subject) + len(t.HTML) + len(t.Text); n > MaxTemplateBytes {
		return &fault.Error{Kind: fault.Invalid, Reason: ReasonInvalidTemplate, ResourceType: ResourceType, ResourceID: t.Name,
			Message: fmt.Sprintf("The template %s is %d bytes; the subject, HTML and text parts together may be at most %d bytes (500 KB).", t.Name, n, MaxTemplateBytes)}
	}
	for _, p := range []struct{ part, src string }{{"subject", t.Subject}, {"HTML", t.HTML}, {"text", t.Text}} {
		if _, err := s.parse(p.src); err != nil {
			return &fault.Error{Kind: fault.Invalid, Reason: ReasonInvalidTemplate, ResourceType: ResourceType, ResourceID: t.Name,
				Message: fmt.Sprintf("The %s part of template %s is not valid Handlebars: %v", p.part, t.Name, err), Err: err}
		}
	}
	return nil
}

// Create stores a new template.
func (s *Service) Create(ctx context.Context, t *Template) error {
	if err := s.validate(t); err != nil {
		return err
	}
	if err := s.store.CreateTemplate(ctx, t, s.cfg.MaxTemplates); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "template created", "account", t.AccountID, "template", t.Name)
	return nil
}

// Get returns a template, or fault.NotFound.
func (s *Service) Get(ctx context.Context, accountID, name string) (*Template, error) {
	return s.store.GetTemplate(ctx, accountID, name)
}

// Update replaces the parts of an existing template.
func (s *Service) Update(ctx context.Context, t *Template) error {
	if err := s.validate(t); err != nil {
		return err
	}
	return s.store.UpdateTemplate(ctx, t)
}

// UpdateTags replaces the tags of a template with what fn makes of them
// (TagResource, UntagResource).
func (s *Service) UpdateTags(ctx context.Context, accountID, name string, fn func([]Tag) ([]Tag, error)) error {
	return s.store.UpdateTemplateTags(ctx, accountID, name, fn)
}

// Delete deletes a template, or returns fault.NotFound.
func (s *Service) Delete(ctx context.Context, accountID, name string) error {
	if err := s.store.DeleteTemplate(ctx, accountID, name); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "template deleted", "account", accountID, "template", name)
	return nil
}

// List returns a page of an account's templates in name order and the
// token of the next page ("" after the last). pageSize 0 means the
// default (10); above 100 it is 100.
func (s *Service) List(ctx context.Context, accountID, token string, pageSize int) ([]*Template, string, error) {
	switch {
	case pageSize == 0:
		pageSize = defaultPageSize
	case pageSize < 0:
		return nil, "", fault.Invalidf("The page size must be at least 1.")
	case pageSize > maxPageSize:
		pageSize = maxPageSize
	}
	after, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	ts, err := s.store.ListTemplates(ctx, accountID, after, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(ts) > pageSize {
		ts = ts[:pageSize]
		next = encodeToken(ts[pageSize-1].Name)
	}
	return ts, next, nil
}

// A NextToken is base64url of the last name and a checksum, so that an
// altered token is refused rather than misread.
func encodeToken(last string) string {
	sum := strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte("templates\x00"+last))), 36)
	return base64.RawURLEncoding.EncodeToString([]byte(last + "\x00" + sum))
}

func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		last, sum, ok := strings.Cut(string(b), "\x00")
		if ok && last != "" && encodeToken(last) == tok && sum != "" {
			return last, nil
		}
	}
	return "", fault.Invalidf("Invalid NextToken.")
}

// parse returns the AST of src, from the cache when it was parsed before.
func (s *Service) parse(src string) (*handlebars.Template, error) {
	s.mu.Lock()
	t, ok := s.parsed[src]
	s.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := handlebars.Parse(src)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.parsed) >= maxParsed {
		clear(s.parsed)
	}
	s.parsed[src] = t
	s.mu.Unlock()
	return t, nil
}

// Render renders the account's template name with templateDataJSON (a
// JSON object) as SES does for a templated send: values are HTML-escaped
// in the HTML part only, and a {{value}} missing from the data is an
// error. Errors are faults: NotFound (no such template, ResourceType
// "template"), or Invalid with Reason ReasonInvalidData,
// ReasonMissingAttribute or ReasonInvalidTemplate and a message fit for a
// RenderingFailure event.
func (s *Service) Render(ctx context.Context, accountID, templateName, templateDataJSON string) (subject, html, text string, err error) {
	t, err := s.store.GetTemplate(ctx, accountID, templateName)
	if err != nil {
		return "", "", "", err
	}
	return s.render(templateName, t.Subject, t.HTML, t.Text, templateDataJSON)
}

// RenderInline renders template parts given with the send (SES v2
// SendEmail Template.TemplateContent) like Render.
func (s *Service) RenderInline(ctx context.Context, subject, html, text, templateDataJSON string) (string, string, string, error) {
	if n := len(subject) + len(html) + len(text); n > MaxTemplateBytes {
		return "", "", "", &fault.Error{Kind: fault.Invalid, Reason: ReasonInvalidTemplate,
			Message: fmt.Sprintf("The template content is %d bytes; at most %d bytes (500 KB) are allowed.", n, MaxTemplateBytes)}
	}
	return s.render("", subject, html, text, templateDataJSON)
}

func (s *Service) render(name, subject, html, text, dataJSON string) (string, string, string, error) {
	fail := func(reason string, cause error, format string, args ...any) (string, string, string, error) {
		return "", "", "", &fault.Error{Kind: fault.Invalid, Reason: reason, ResourceType: ResourceType, ResourceID: name,
			Message: fmt.Sprintf(format, args...), Err: cause}
	}
	if len(dataJSON) > MaxDataBytes {
		return fail(ReasonInvalidData, nil, "The template data is %d bytes; at most %d are allowed.", len(dataJSON), MaxDataBytes)
	}
	data, err := handlebars.ParseData([]byte(dataJSON))
	if err != nil {
		return fail(ReasonInvalidData, err, "The template data is not valid JSON: %v", err)
	}
	if _, ok := data.(*handlebars.Object); !ok {
		return fail(ReasonInvalidData, nil, "The template data must be a JSON object.")
	}
	out := make([]string, 3)
	for i, p := range []struct {
		part, src string
		html      bool
	}{{"subject", subject, false}, {"HTML", html, true}, {"text", text, false}} {
		if p.src == "" {
			continue
		}
		tpl, err := s.parse(p.src)
		if err != nil {
			return fail(ReasonInvalidTemplate, err, "%s: the %s part is not valid Handlebars: %v", describe(name), p.part, err)
		}
		out[i], err = tpl.Render(data, handlebars.Options{HTML: p.html, Strict: true})
		var re *handlebars.RenderError
		switch {
		case errors.As(err, &re) && re.Missing != "":
			return fail(ReasonMissingAttribute, err, "Attribute '%s' is not present in the rendering data (%s, %s part, %d:%d).", re.Missing, describe(name), p.part, re.Line, re.Col)
		case err != nil:
			return fail(ReasonInvalidTemplate, err, "%s cannot be rendered: %s part: %v", describe(name), p.part, err)
		}
	}
	// A subject is one header line: folding it is the composer's job,
	// but a line break in it would inject headers.
	out[0] = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(out[0])
	return out[0], out[1], out[2], nil
}

func describe(name string) string {
	if name == "" {
		return "the template content"
	}
	return "template " + name
}

// TestRender renders an account's template as TestRenderEmailTemplate
// does: the whole MIME message, with a Subject header and a
// multipart/alternative body of the text and HTML parts.
func (s *Service) TestRender(ctx context.Context, accountID, templateName, templateDataJSON string) (string, error) {
	subject, html, text, err := s.Render(ctx, accountID, templateName, templateDataJSON)
	if err != nil {
		return "", err
	}
	return s.compose(time.Now(), subject, html, text), nil
}

// compose builds the MIME message of a rendered template (RFC 5322,
// RFC 2045-2047), with CRLF line ends.
func (s *Service) compose(now time.Time, subject, html, text string) string {
	var b strings.Builder
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("Date", now.UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+randHex(16)+"@"+s.cfg.Hostname+">")
	h("Subject", mime.QEncoding.Encode("UTF-8", subject))
	h("MIME-Version", "1.0")
	part := func(ctype, body string) {
		enc, out := encodeBody(body)
		b.WriteString("Content-Type: " + ctype + "; charset=UTF-8\r\n")
		b.WriteString("Content-Transfer-Encoding: " + enc + "\r\n\r\n")
		b.WriteString(out)
	}
	switch {
	case html != "" && text != "":
		boundary := "----=_Part_" + randHex(12)
		b.WriteString("Content-Type: multipart/alternative; \r\n\tboundary=\"" + boundary + "\"\r\n\r\n")
		// RFC 2046 5.1.4: the last alternative is the preferred one.
		b.WriteString("--" + boundary + "\r\n")
		part("text/plain", text)
		b.WriteString("\r\n--" + boundary + "\r\n")
		part("text/html", html)
		b.WriteString("\r\n--" + boundary + "--\r\n")
	case html != "":
		part("text/html", html)
	default:
		part("text/plain", text)
	}
	return b.String()
}

// encodeBody returns a part's transfer encoding and its encoded body:
// 7bit for short-lined ASCII, quoted-printable otherwise (RFC 2045 6.7).
func encodeBody(body string) (string, string) {
	plain := true
	for _, line := range strings.Split(body, "\n") {
		if len(line) > 998 {
			plain = false
		}
	}
	for i := 0; i < len(body) && plain; i++ {
		if c := body[i]; c >= 0x80 || c == 0 || (c == '\r' && (i+1 >= len(body) || body[i+1] != '\n')) {
			plain = false
		}
	}
	if plain {
		return "7bit", crlf(body)
	}
	var b strings.Builder
	w := quotedprintable.NewWriter(&b)
	_, _ = w.Write([]byte(body)) // a strings.Builder does not fail
	_ = w.Close()
	return "quoted-printable", b.String()
}

// crlf makes every line end CRLF.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}
