package console_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/archive"
	blobfs "github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/console"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/message"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

const (
	acct   = "111122223333"
	other  = "444455556666"
	keyID  = "AKIACONSOLETEST00001"
	secret = "console-test-secret-0123456789"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type bundle struct {
	t       *testing.T
	db      *store.DB
	arch    *archive.Service
	mm      *mailmanager.Service
	clock   *fakeClock
	srv     *httptest.Server
	console *console.Console
	archive string // an archive of acct
	ctx     context.Context
}

func setup(t *testing.T, jobs bool) *bundle {
	t.Helper()
	var db *store.DB
	if os.Getenv(storetest.EnvPostgresURL) != "" {
		db = storetest.OpenPostgres(t)
	} else {
		db = storetest.OpenSQLite(t)
	}
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	blobs, err := blobfs.New(t.TempDir())
	require.NoError(t, err)
	mms, err := mailmanager.New(db.MailManager(), nil, nil, mailmanager.Config{}, nil)
	require.NoError(t, err)
	arch, err := archive.New(db.Archive(), blobs, archive.MailManagerArchives(mms), archive.Config{
		SigningKey: bytes.Repeat([]byte("k"), 32),
		Now:        clock.Now,
	}, nil)
	require.NoError(t, err)
	st := db.IAM()
	for _, a := range []string{acct, other} {
		require.NoError(t, st.EnsureAccount(ctx, iam.Account{ID: a, CreatedAt: time.Now()}))
	}
	require.NoError(t, st.CreateAccessKey(ctx, iam.AccessKey{AccessKeyID: keyID, SecretAccessKey: secret, AccountID: acct,
		Status: iam.StatusActive, CreatedAt: time.Now()}))
	c, err := console.New(console.Config{Credentials: st, Sessions: db.ConsoleSessions(), Archives: mms, Archive: arch, Blobs: blobs, Now: clock.Now,
		IdleTimeout: 10 * time.Minute, MaxAge: time.Hour, FailureDelay: time.Millisecond})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(console.Prefix+"/", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if jobs {
		q := db.Jobs()
		require.NoError(t, arch.RegisterJobs(q))
		require.NoError(t, q.Start(ctx))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = q.Stop(ctx)
		})
	}
	b := &bundle{t: t, db: db, arch: arch, mm: mms, clock: clock, srv: srv, console: c,
		ctx: iam.WithPrincipal(ctx, iam.Principal{AccountID: acct})}
	out, err := mms.CreateArchive(b.ctx, &mm.CreateArchiveRequest{ArchiveName: ptr("legal-hold")})
	require.NoError(t, err)
	b.archive = *out.ArchiveId
	return b
}

// store archives raw in the bundle's archive.
func (b *bundle) store(raw string) string {
	b.t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	env := &message.Envelope{AccountID: acct, IngressPointID: "inp-test", MailFrom: "sender@ext.example",
		Recipients: []string{"rcpt@corp.example"}, Size: int64(len(raw)),
		Conn: message.Conn{RemoteIP: netip.MustParseAddr("192.0.2.10"), Helo: "mx.ext.example"}}
	id, err := b.arch.Store(context.Background(), acct, b.archive, env, message.Auth{}, strings.NewReader(raw))
	require.NoError(b.t, err)
	return id
}

// client is a browser: a cookie jar, no automatic redirects.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (b *bundle) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: b.t, base: b.srv.URL, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) answer {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return answer{resp.StatusCode, resp.Header, string(body)}
}

func (c *client) get(path string) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.t, err)
	return c.do(req)
}

func (c *client) post(path string, form url.Values, header ...string) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	require.NotNil(t, m, "no csrf field in the page:\n%s", page)
	return m[1]
}

// login logs in and returns the answer to the login POST.
func (c *client) login(identity, secret string) answer {
	c.t.Helper()
	page := c.get(console.Prefix + "/login")
	require.Equal(c.t, http.StatusOK, page.status)
	return c.post(console.Prefix+"/login", url.Values{"csrf": {csrfOf(c.t, page.body)}, "identity": {identity}, "secret": {secret}})
}

func (c *client) mustLogin() {
	c.t.Helper()
	a := c.login(keyID, secret)
	require.Equal(c.t, http.StatusSeeOther, a.status, a.body)
}

func TestLoginWithAccessKey(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	c := b.client()

	// Not logged in: to the login page, and back after.
	a := c.get(console.Prefix + "/archives")
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, console.Prefix+"/login?next="+url.QueryEscape(console.Prefix+"/archives"), a.header.Get("Location"))

	page := c.get(console.Prefix + "/login")
	require.Contains(t, page.body, `<label for="identity">`)
	require.Contains(t, page.header.Get("Content-Security-Policy"), "default-src 'self'")
	require.Contains(t, page.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "nosniff", page.header.Get("X-Content-Type-Options"))

	a = c.login(keyID, "wrong-secret")
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Contains(t, a.body, "The ID or the secret is wrong.")
	a = c.login("AKIANOSUCHKEY0000000", secret)
	require.Equal(t, http.StatusUnauthorized, a.status)

	a = c.login(keyID, secret)
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, console.Prefix+"/", a.header.Get("Location"))
	var ck *http.Cookie
	for _, k := range (&http.Response{Header: a.header}).Cookies() {
		if k.Name == console.SessionCookie {
			ck = k
		}
	}
	require.NotNil(t, ck, "no session cookie")
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.Equal(t, console.Prefix, ck.Path)
	require.GreaterOrEqual(t, len(ck.Value), 43, "the session ID has 256 random bits")

	a = c.get(console.Prefix + "/")
	require.Equal(t, http.StatusSeeOther, a.status)
	a = c.get(console.Prefix + "/archives")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, "legal-hold")
	require.Contains(t, a.body, `aria-current="page"`)
	require.Equal(t, "no-store", a.header.Get("Cache-Control"))

	// An inactive key does not log in.
	k2 := iam.AccessKey{AccessKeyID: "AKIACONSOLEINACTIVE1", SecretAccessKey: secret, AccountID: acct, Status: iam.StatusInactive, CreatedAt: time.Now()}
	require.NoError(t, b.db.IAM().CreateAccessKey(context.Background(), k2))
	require.Equal(t, http.StatusUnauthorized, b.client().login(k2.AccessKeyID, secret).status)
}

func TestLoginWithPassword(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	_, err := console.HashPassword("short")
	require.Error(t, err)
	hash, err := console.HashPassword("correct horse battery staple")
	require.NoError(t, err)
	require.NoError(t, b.db.IAM().PutSetting(context.Background(), console.PasswordSetting(acct), hash))

	c := b.client()
	require.Equal(t, http.StatusUnauthorized, c.login(acct, "correct horse battery stapl").status)
	require.Equal(t, http.StatusUnauthorized, c.login(other, "correct horse battery staple").status, "an account without a password")
	a := c.login(acct, "correct horse battery staple")
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Contains(t, c.get(console.Prefix+"/archives").body, "legal-hold")
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t, false)

	// The login form without its token, or with another's.
	c := b.client()
	c.get(console.Prefix + "/login")
	a := c.post(console.Prefix+"/login", url.Values{"identity": {keyID}, "secret": {secret}})
	require.Equal(t, http.StatusForbidden, a.status)
	a = c.post(console.Prefix+"/login", url.Values{"csrf": {"forged"}, "identity": {keyID}, "secret": {secret}})
	require.Equal(t, http.StatusForbidden, a.status)
	require.Contains(t, a.body, "security token")

	c.mustLogin()
	page := c.get(console.Prefix + "/archives/" + b.archive)
	require.Equal(t, http.StatusOK, page.status)
	token := csrfOf(t, page.body)

	// A form of the session without the token, with a wrong one, or from
	// another origin: refused, nothing done.
	for _, tc := range []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", url.Values{}, nil},
		{"wrong token", url.Values{"csrf": {token + "x"}}, nil},
		{"other origin", url.Values{"csrf": {token}}, []string{"Origin", "https://evil.example"}},
		{"cross-site fetch", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		a := c.post(console.Prefix+"/archives/"+b.archive+"/exports", tc.form, tc.header...)
		require.Equal(t, http.StatusForbidden, a.status, tc.name)
		a = c.post(console.Prefix+"/logout", tc.form, tc.header...)
		require.Equal(t, http.StatusForbidden, a.status, tc.name)
	}
	out, err := b.arch.ListArchiveExports(b.ctx, &mm.ListArchiveExportsRequest{ArchiveId: &b.archive})
	require.NoError(t, err)
	require.Empty(t, out.Exports, "a refused form started an export")
	require.Equal(t, http.StatusOK, c.get(console.Prefix+"/archives").status, "a refused logout ended the session")

	// With the token (and this origin): logged out.
	a = c.post(console.Prefix+"/logout", url.Values{"csrf": {token}}, "Origin", b.srv.URL)
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Equal(t, http.StatusSeeOther, c.get(console.Prefix+"/archives").status)
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, false)

	// Idle: 10 minutes without a request.
	c := b.client()
	c.mustLogin()
	b.clock.Advance(9 * time.Minute)
	require.Equal(t, http.StatusOK, c.get(console.Prefix+"/archives").status)
	b.clock.Advance(9 * time.Minute) // 18 minutes after login, 9 after the last request
	require.Equal(t, http.StatusOK, c.get(console.Prefix+"/archives").status)
	b.clock.Advance(10 * time.Minute)
	a := c.get(console.Prefix + "/archives")
	require.Equal(t, http.StatusSeeOther, a.status)
	require.Contains(t, a.header.Get("Location"), console.Prefix+"/login")
	// A POST of an expired session is not carried out.
	a = c.post(console.Prefix+"/logout", url.Values{"csrf": {"x"}})
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.Contains(t, a.body, "Session expired")

	// Absolute: an hour after login, however active.
	c = b.client()
	c.mustLogin()
	for range 6 {
		b.clock.Advance(9 * time.Minute)
		require.Equal(t, http.StatusOK, c.get(console.Prefix+"/archives").status)
	}
	b.clock.Advance(7 * time.Minute)
	require.Equal(t, http.StatusSeeOther, c.get(console.Prefix+"/archives").status)

	// Deleting the access key ends its sessions.
	k := iam.AccessKey{AccessKeyID: "AKIACONSOLEDELETED01", SecretAccessKey: secret, AccountID: acct, Status: iam.StatusActive, CreatedAt: time.Now()}
	require.NoError(t, b.db.IAM().CreateAccessKey(context.Background(), k))
	c = b.client()
	require.Equal(t, http.StatusSeeOther, c.login(k.AccessKeyID, secret).status)
	require.Equal(t, http.StatusOK, c.get(console.Prefix+"/archives").status)
	require.NoError(t, b.db.IAM().DeleteAccessKey(context.Background(), k.AccessKeyID))
	require.Equal(t, http.StatusSeeOther, c.get(console.Prefix+"/archives").status)

	// Logout ends the session on the server: the old cookie is dead.
	c = b.client()
	c.mustLogin()
	u, _ := url.Parse(b.srv.URL + console.Prefix + "/")
	old := c.hc.Jar.Cookies(u)
	token := csrfOf(t, c.get(console.Prefix+"/archives").body)
	require.Equal(t, http.StatusSeeOther, c.post(console.Prefix+"/logout", url.Values{"csrf": {token}}).status)
	c2 := b.client()
	c2.hc.Jar.SetCookies(u, old)
	require.Equal(t, http.StatusSeeOther, c2.get(console.Prefix+"/archives").status)
}

func TestFailedLoginsThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	c := b.client()
	for i := range console.ThrottleLimit {
		require.Equal(t, http.StatusUnauthorized, c.login(keyID, "wrong").status, "attempt %d", i)
	}
	a := c.login(keyID, secret)
	require.Equal(t, http.StatusTooManyRequests, a.status, "the right secret after too many failures")
	require.Contains(t, a.body, "Too many failed logins")
	b.clock.Advance(console.ThrottleWindow + time.Second)
	require.Equal(t, http.StatusSeeOther, c.login(keyID, secret).status)
}

const htmlMessage = `From: Alice <alice@ext.example>
To: Bob <bob@corp.example>
Subject: Quarterly figures
Date: Sun, 01 Mar 2026 10:00:00 +0000
Message-ID: <q1@ext.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

The figures are attached.
--alt
Content-Type: text/html; charset=utf-8

<html><body><p id="greeting">The <b>figures</b> are attached.</p><img src="http://127.0.0.1:1/track.png"><script>document.title="pwned"</script></body></html>
--alt--
--outer
Content-Type: text/csv; name="figures.csv"
Content-Disposition: attachment; filename="figures.csv"
Content-Transfer-Encoding: base64

cXVhcnRlcixyZXZlbnVlClExLDEwMAo=
--outer--
`

func TestMessage(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	id := b.store(htmlMessage)
	c := b.client()
	c.mustLogin()
	base := console.Prefix + "/archives/" + b.archive + "/messages/" + id

	page := c.get(base)
	require.Equal(t, http.StatusOK, page.status, page.body)
	require.Contains(t, page.body, "Quarterly figures")
	require.Contains(t, page.body, "The figures are attached.")
	require.Contains(t, page.body, "figures.csv")
	require.Regexp(t, `<iframe class="body" sandbox="" src="`+regexp.QuoteMeta(base)+`/html"`, page.body)
	require.NotContains(t, page.body, "allow-scripts")
	require.NotContains(t, page.body, "track.png", "the HTML is not inlined in the page")

	// The HTML body: its own CSP, no script, nothing remote.
	h := c.get(base + "/html")
	require.Equal(t, http.StatusOK, h.status)
	csp := h.header.Get("Content-Security-Policy")
	require.Equal(t, console.HTMLCSP, csp)
	for _, want := range []string{"default-src 'none'", "img-src data: cid:", "sandbox", "frame-ancestors 'self'"} {
		require.Contains(t, csp, want)
	}
	require.NotContains(t, csp, "script-src")
	require.NotContains(t, csp, "http")
	require.Equal(t, "SAMEORIGIN", h.header.Get("X-Frame-Options"))
	require.Contains(t, h.body, `<p id="greeting">`)

	// The attachment: downloaded, decoded, its type, never sniffed.
	att := c.get(base + "/attachments/0")
	require.Equal(t, http.StatusOK, att.status)
	require.Equal(t, "quarter,revenue\nQ1,100\n", att.body)
	require.Equal(t, `attachment; filename=figures.csv`, att.header.Get("Content-Disposition"))
	require.Equal(t, "text/csv", att.header.Get("Content-Type"))
	require.Equal(t, "nosniff", att.header.Get("X-Content-Type-Options"))
	require.Equal(t, http.StatusNotFound, c.get(base+"/attachments/1").status)

	raw := c.get(base + "/raw")
	require.Equal(t, http.StatusOK, raw.status)
	require.Equal(t, strings.ReplaceAll(htmlMessage, "\n", "\r\n"), raw.body)
	require.Equal(t, "message/rfc822", raw.header.Get("Content-Type"))

	// Not found: another archive's path, an unknown message, another account.
	out, err := b.mm.CreateArchive(b.ctx, &mm.CreateArchiveRequest{ArchiveName: ptr("other")})
	require.NoError(t, err)
	for _, p := range []string{
		console.Prefix + "/archives/" + *out.ArchiveId + "/messages/" + id,
		console.Prefix + "/archives/" + *out.ArchiveId + "/messages/" + id + "/html",
		console.Prefix + "/archives/" + b.archive + "/messages/0000nosuchmessage",
		console.Prefix + "/archives/a-nosuch/messages/" + id,
	} {
		a := c.get(p)
		require.Equal(t, http.StatusNotFound, a.status, p)
		require.Contains(t, a.body, "<h1>Not found</h1>", p)
	}
	k := iam.AccessKey{AccessKeyID: "AKIACONSOLEOTHER0001", SecretAccessKey: secret, AccountID: other, Status: iam.StatusActive, CreatedAt: time.Now()}
	require.NoError(t, b.db.IAM().CreateAccessKey(context.Background(), k))
	c2 := b.client()
	require.Equal(t, http.StatusSeeOther, c2.login(k.AccessKeyID, secret).status)
	require.Equal(t, http.StatusNotFound, c2.get(base).status, "another account's message")
	require.NotContains(t, c2.get(console.Prefix+"/archives").body, "legal-hold")
}

func TestSearch(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	for i := range 25 {
		b.store(fmt.Sprintf("From: Carol <carol@ext.example>\nTo: dave@corp.example\nSubject: Invoice %02d\n\nPlease pay invoice number %02d.\n", i, i))
	}
	b.store(htmlMessage)
	c := b.client()
	c.mustLogin()
	p := console.Prefix + "/archives/" + b.archive

	a := c.get(p + "?" + url.Values{"from": {"carol"}, "subject": {"invoice"}}.Encode())
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `from:&#34;carol&#34; subject:&#34;invoice&#34;`)
	require.Equal(t, 20, strings.Count(a.body, "Invoice "), "a first page of 20")
	require.NotContains(t, a.body, "Quarterly")
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(a.body)
	require.NotNil(t, next)
	a = c.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, 5, strings.Count(a.body, "Invoice "), "then 5")
	require.Contains(t, a.body, "page 2")
	require.Contains(t, a.body, `rel="prev"`)
	require.NotContains(t, a.body, `rel="next"`)

	a = c.get(p + "?" + url.Values{"words": {"figures"}, "attach": {"yes"}}.Encode())
	require.Contains(t, a.body, "Quarterly figures")
	require.NotContains(t, a.body, "Invoice ")

	// Bad input is shown on the page.
	a = c.get(p + "?" + url.Values{"since": {"2026-13-01"}}.Encode())
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Contains(t, a.body, "is not a date")
	a = c.get(p + "?" + url.Values{"since": {"2026-03-02"}, "until": {"2026-03-01"}}.Encode())
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Contains(t, a.body, "the date range is empty")
	a = c.get(p + "?" + url.Values{"words": {"has:nothing"}}.Encode())
	require.Equal(t, http.StatusBadRequest, a.status)
	require.Contains(t, a.body, "unknown has:nothing")

	// History.
	h := c.get(p + "/history")
	require.Equal(t, http.StatusOK, h.status)
	require.Contains(t, h.body, `from:&#34;carol&#34;`)

	// 404 page, not a stack trace.
	a = c.get(console.Prefix + "/no/such/page")
	require.Equal(t, http.StatusNotFound, a.status)
	require.Contains(t, a.body, "Page not found")
}

func TestExport(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	var ids []string
	for i := range 3 {
		ids = append(ids, b.store(fmt.Sprintf("From: erin@ext.example\nTo: frank@corp.example\nSubject: Contract %d\n\nDraft.\n", i)))
	}
	b.store("From: someone@else.example\nTo: frank@corp.example\nSubject: Lunch\n\nNoon?\n")
	c := b.client()
	c.mustLogin()
	p := console.Prefix + "/archives/" + b.archive
	page := c.get(p + "?from=erin")
	token := csrfOf(t, page.body)

	a := c.post(p+"/exports", url.Values{"csrf": {token}, "from": {"erin"}, "words": {"draft"}})
	require.Equal(t, http.StatusBadRequest, a.status, "words cannot be exported")
	require.Contains(t, a.body, "Clear Words")

	a = c.post(p+"/exports", url.Values{"csrf": {token}, "from": {"erin"}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	exportPage := a.header.Get("Location")
	require.True(t, strings.HasPrefix(exportPage, p+"/exports/"), exportPage)
	page = c.get(exportPage)
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `<progress id="export-bar"`)

	var st console.ExportStatus
	end := time.Now().Add(30 * time.Second)
	for {
		a := c.get(exportPage + "/progress")
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.NoError(t, json.Unmarshal([]byte(a.body), &st))
		if st.Done {
			break
		}
		require.True(t, time.Now().Before(end), "the export did not finish: %+v", st)
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, "COMPLETED", st.State)
	require.Equal(t, int64(3), st.Total)
	require.Equal(t, int64(3), st.Exported)
	require.Equal(t, 100, st.Percent)
	require.Equal(t, exportPage+"/download", st.Download)

	dl := c.get(st.Download)
	require.Equal(t, http.StatusOK, dl.status)
	require.Equal(t, "application/zip", dl.header.Get("Content-Type"))
	require.Contains(t, dl.header.Get("Content-Disposition"), "attachment")
	zr, err := zip.NewReader(strings.NewReader(dl.body), int64(len(dl.body)))
	require.NoError(t, err)
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	for _, id := range ids {
		require.Contains(t, names, id+".eml")
		require.Contains(t, names, id+".metadata.json")
	}
	require.Len(t, names, 6)

	h := c.get(p + "/history")
	require.Contains(t, h.body, st.ID)
	require.Contains(t, h.body, "COMPLETED")
}

// TestLoginTwoTabs: a second login page (another tab) keeps the token of
// the first, whose form still works.
func TestLoginTwoTabs(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	c := b.client()
	first := csrfOf(t, c.get(console.Prefix+"/login").body)
	second := csrfOf(t, c.get(console.Prefix+"/login").body)
	require.Equal(t, first, second)
	a := c.post(console.Prefix+"/login", url.Values{"csrf": {first}, "identity": {keyID}, "secret": {secret}})
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	// Another browser's token is not this one's.
	other := b.client()
	require.NotEqual(t, first, csrfOf(t, other.get(console.Prefix+"/login").body))
}

// TestPanicIsAnErrorPage: a failing handler shows an error page, never
// the panic or a stack trace.
func TestPanicIsAnErrorPage(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	b.console.Mux().HandleFunc("GET "+console.Prefix+"/boom", func(http.ResponseWriter, *http.Request) {
		panic("secret detail of the failure")
	})
	a := b.client().get(console.Prefix + "/boom")
	require.Equal(t, http.StatusInternalServerError, a.status)
	require.Contains(t, a.body, "Something went wrong")
	require.NotContains(t, a.body, "secret detail")
	require.NotContains(t, a.body, "goroutine")
	require.Contains(t, a.header.Get("Content-Security-Policy"), "default-src 'self'")
}

func ptr[T any](v T) *T { return &v }
