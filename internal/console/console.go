// Package console is Tidings' web console, mounted at /console on the HTTP
// address: server-rendered html/template pages and embedded assets (no
// CDN, no build step). A person logs in with an access key pair or the
// account's console password and reads the archive: archives, searches,
// messages (the HTML body in a sandboxed iframe with remote content
// blocked), attachments, exports with their progress, and the history of
// searches and exports.
//
// The layout's navigation is data: each area of the console is a section
// (Console.sections); the archive is the first, and sending, SMS and the
// gateway add theirs the same way.
//
// Security: a session is a random 256-bit ID in an HttpOnly,
// SameSite=Strict cookie, kept in the database by its SHA-256 (so that
// sessions survive a restart and every node knows them), ended by logout,
// by idleness, at an absolute age, and when its access key is deleted or
// deactivated; every POST carries a CSRF token and a
// cross-origin Origin is refused; failed logins are slowed per client;
// every answer carries a Content-Security-Policy (default-src 'self', no
// framing), nosniff and no-referrer.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// Prefix is the path the console is served under; mount Handler at
// Prefix+"/".
const Prefix = "/console"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Credentials is what login checks: access keys and the console
// passwords kept among the IAM settings (iam.Store has both).
type Credentials interface {
	GetAccessKey(ctx context.Context, id string) (*iam.AccessKey, error)
	GetSetting(ctx context.Context, key string) (value string, found bool, err error)
}

// ArchiveLister reads the archive resources of the caller's account
// (mailmanager.Service is one).
type ArchiveLister interface {
	ListArchives(ctx context.Context, in *mm.ListArchivesRequest) (*mm.ListArchivesResponse, error)
	GetArchive(ctx context.Context, in *mm.GetArchiveRequest) (*mm.GetArchiveResponse, error)
}

// Config is what a Console needs. Zero durations take the defaults.
type Config struct {
	Credentials Credentials
	Sessions    SessionStore
	Archives    ArchiveLister
	Archive     *archive.Service
	// Blobs holds what exports write; the console zips it for download.
	Blobs blob.Store
	// IdleTimeout ends a session after that long without a request
	// (default 30 min); MaxAge ends it that long after login (default 12 h).
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// FailureDelay is the wait after a first failed login from a client;
	// it doubles with each further failure, up to 16 times (default 1 s).
	FailureDelay time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Console serves the web console.
type Console struct {
	cfg      Config
	log      *slog.Logger
	pages    map[string]*template.Template
	mux      *http.ServeMux
	sessions *sessions
	throttle *throttle
	hashing  chan struct{} // bounds concurrent password hashing (memory)
	sections []section
}

// section is one area of the console: an entry of the navigation and the
// routes under Prefix+"/"+path.
type section struct {
	label, path string
	routes      func(c *Console, mux *http.ServeMux)
}

// sections lists the console's areas in navigation order. Sending, SMS
// and the gateway add theirs here.
func sections() []section {
	return []section{
		{label: "Archives", path: "archives", routes: (*Console).archiveRoutes},
	}
}

// navItem is an entry of the navigation as templates see it.
type navItem struct {
	Label, Href string
	Current     bool
}

// New returns a console.
func New(cfg Config) (*Console, error) {
	switch {
	case cfg.Credentials == nil || cfg.Sessions == nil:
		return nil, errors.New("console: the credentials and the session store are required")
	case cfg.Archive == nil || cfg.Archives == nil || cfg.Blobs == nil:
		return nil, errors.New("console: the archive, its lister and the blob store are required")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 12 * time.Hour
	}
	if cfg.IdleTimeout > cfg.MaxAge {
		cfg.IdleTimeout = cfg.MaxAge
	}
	if cfg.FailureDelay <= 0 {
		cfg.FailureDelay = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{
		cfg:      cfg,
		log:      cfg.Logger,
		pages:    pages,
		sessions: newSessions(cfg.Sessions, cfg.Now, cfg.IdleTimeout, cfg.MaxAge, cfg.Logger),
		throttle: newThrottle(cfg.Now, cfg.FailureDelay),
		hashing:  make(chan struct{}, 2),
		sections: sections(),
	}
	c.mux = c.routes()
	return c, nil
}

var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"size": func(n int64) string {
		switch {
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d bytes", n)
	},
	"join": strings.Join,
}

// parsePages parses each page with the layout.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(Prefix+"/static/", http.FileServerFS(static))
	mux.Handle("GET "+Prefix+"/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET "+Prefix+"/login", c.loginPage)
	mux.HandleFunc("POST "+Prefix+"/login", c.login)
	mux.Handle("POST "+Prefix+"/logout", c.authed(c.logout))
	mux.Handle("GET "+Prefix+"/{$}", c.authed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, Prefix+"/"+c.sections[0].path, http.StatusSeeOther)
	}))
	for _, s := range c.sections {
		s.routes(c, mux)
	}
	mux.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		c.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at "+r.URL.Path+".")
	})
	return mux
}

// ServeHTTP serves the console: security headers on every answer, and a
// panic becomes an error page (the stack goes to the log, never to the
// browser).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			c.log.Error("console: panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			c.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
				"The console could not show this page. The error has been logged.")
		}
	}()
	c.mux.ServeHTTP(w, r)
}

// pageCSP is the policy of every console page: nothing from elsewhere,
// no inline script or style, not framed by anyone.
const pageCSP = "default-src 'self'; img-src 'self' data:; frame-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageData is what every page template gets.
type pageData struct {
	Title   string
	Nav     []navItem
	Account string
	CSRF    string
	// Refresh, when set, is a meta refresh in seconds (for pages without
	// script).
	Refresh int
	Page    any
}

// render writes a page with the layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, s *session, page any) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	d := pageData{Title: title, Page: page}
	if s != nil {
		d.Account, d.CSRF = s.AccountID, s.CSRF
		for _, sec := range c.sections {
			href := Prefix + "/" + sec.path
			d.Nav = append(d.Nav, navItem{Label: sec.label, Href: href,
				Current: r.URL.Path == href || strings.HasPrefix(r.URL.Path, href+"/")})
		}
	}
	if p, ok := page.(interface{ refresh() int }); ok {
		d.Refresh = p.refresh()
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		c.log.Error("console: rendering a page", "page", name, "err", err)
		http.Error(w, "The console could not render this page.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

type errorData struct {
	Status  int
	Message string
}

// errorPage answers an error as a page.
func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	s, _ := c.sessions.peek(r)
	c.render(w, r, status, "error", title, s, errorData{Status: status, Message: msg})
}

// fail answers a domain error: its kind picks the status, an internal
// error is logged and shown without detail.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch fault.KindOf(err) {
	case fault.NotFound:
		c.errorPage(w, r, http.StatusNotFound, "Not found", err.Error())
	case fault.Invalid:
		c.errorPage(w, r, http.StatusBadRequest, "Invalid request", err.Error())
	case fault.Conflict:
		c.errorPage(w, r, http.StatusConflict, "Not possible now", err.Error())
	case fault.AccessDenied:
		c.errorPage(w, r, http.StatusForbidden, "Access denied", err.Error())
	case fault.Unavailable, fault.Throttled:
		c.errorPage(w, r, http.StatusServiceUnavailable, "Unavailable", "The service is busy or unavailable; try again shortly.")
	default:
		if errors.Is(err, context.Canceled) {
			return
		}
		c.log.Error("console: request failed", "path", r.URL.Path, "err", err)
		c.errorPage(w, r, http.StatusInternalServerError, "Something went wrong",
			"The console could not complete this request. The error has been logged.")
	}
}
