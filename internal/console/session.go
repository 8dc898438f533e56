package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/iam"
)

// Cookie names. The session cookie is HttpOnly and SameSite=Strict: a
// page of another site can neither read it nor make the browser send it.
const (
	sessionCookie = "tidings_console"
	loginCookie   = "tidings_console_login" // the login form's CSRF token
)

// session is a logged-in person.
type session struct {
	AccountID   string
	AccessKeyID string // "" after a password login
	Method      string // "access key" or "password"
	CSRF        string
	Created     time.Time
	Seen        time.Time
}

func (s *session) principal() iam.Principal {
	return iam.Principal{AccountID: s.AccountID, AccessKeyID: s.AccessKeyID, ARN: "arn:aws:iam::" + s.AccountID + ":root"}
}

// sessions holds the sessions of this process, by the SHA-256 of their
// ID (a copy of the map reveals no usable cookie). They do not survive a
// restart and are not shared between nodes: behind a load balancer, the
// console needs sticky sessions.
type sessions struct {
	mu       sync.Mutex
	m        map[[32]byte]*session
	now      func() time.Time
	idle     time.Duration
	absolute time.Duration
	swept    time.Time
}

func newSessions(now func() time.Time, idle, absolute time.Duration) *sessions {
	return &sessions{m: map[[32]byte]*session{}, now: now, idle: idle, absolute: absolute}
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session and returns its ID.
func (ss *sessions) create(s *session) string {
	id := randomToken()
	now := ss.now()
	s.Created, s.Seen, s.CSRF = now, now, randomToken()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.m[sha256.Sum256([]byte(id))] = s
	if now.Sub(ss.swept) > time.Minute {
		ss.swept = now
		for k, v := range ss.m {
			if ss.expired(v, now) {
				delete(ss.m, k)
			}
		}
	}
	return id
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.Seen) >= ss.idle || now.Sub(s.Created) >= ss.absolute
}

// lookup returns the session of a request, marking it used (touch) or
// not; an expired session is deleted.
func (ss *sessions) lookup(r *http.Request, touch bool) (*session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, false
	}
	key := sha256.Sum256([]byte(ck.Value))
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[key]
	if !ok {
		return nil, false
	}
	if ss.expired(s, now) {
		delete(ss.m, key)
		return nil, false
	}
	if touch {
		s.Seen = now
	}
	cp := *s
	return &cp, true
}

func (ss *sessions) peek(r *http.Request) (*session, bool) { return ss.lookup(r, false) }

// delete ends the session of a request.
func (ss *sessions) delete(r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		ss.mu.Lock()
		delete(ss.m, sha256.Sum256([]byte(ck.Value)))
		ss.mu.Unlock()
	}
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// authedHandler is a handler of a logged-in session.
type authedHandler func(w http.ResponseWriter, r *http.Request, s *session)

// authed requires a session (sending the browser to the login page
// otherwise, to come back after) and, for a POST, its CSRF token. The
// request's context carries the session's principal.
func (c *Console) authed(h authedHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.sessions.lookup(r, true)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.errorPage(w, r, http.StatusUnauthorized, "Session expired", "Your session has ended. Log in again.")
			return
		}
		if r.Method == http.MethodPost && !c.checkCSRF(r, s.CSRF) {
			c.errorPage(w, r, http.StatusForbidden, "Form expired",
				"The form was not accepted (its security token is missing or wrong). Go back, reload the page and try again.")
			return
		}
		r = r.WithContext(iam.WithPrincipal(r.Context(), s.principal()))
		h(w, r, s)
	})
}

// checkCSRF checks a POST: the form's csrf field must be want, and a
// browser's Origin (when sent) must be this server.
func (c *Console) checkCSRF(r *http.Request, want string) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	got := r.PostFormValue("csrf")
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// throttle slows failed logins per client address: after the n-th recent
// failure the answer waits delay·2^(n-1), at most 16·delay, and after 20
// failures in 15 minutes the client is refused until they are older.
type throttle struct {
	mu    sync.Mutex
	now   func() time.Time
	delay time.Duration
	fails map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

const (
	throttleWindow = 15 * time.Minute
	throttleLimit  = 20
)

func newThrottle(now func() time.Time, delay time.Duration) *throttle {
	return &throttle{now: now, delay: delay, fails: map[string]*failures{}}
}

func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked says whether the client has failed too often lately.
func (t *throttle) blocked(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.fails[key]
	if !ok {
		return false
	}
	if t.now().Sub(f.last) > throttleWindow {
		delete(t.fails, key)
		return false
	}
	return f.n >= throttleLimit
}

// fail records a failure and waits (or until ctx ends).
func (t *throttle) fail(ctx context.Context, key string) {
	t.mu.Lock()
	now := t.now()
	f, ok := t.fails[key]
	if !ok || now.Sub(f.last) > throttleWindow {
		f = &failures{}
		t.fails[key] = f
	}
	f.n++
	f.last = now
	wait := t.delay << min(f.n-1, 4)
	if len(t.fails) > 10000 { // bound memory: forget old entries
		for k, v := range t.fails {
			if now.Sub(v.last) > throttleWindow {
				delete(t.fails, k)
			}
		}
	}
	t.mu.Unlock()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

func (t *throttle) succeed(key string) {
	t.mu.Lock()
	delete(t.fails, key)
	t.mu.Unlock()
}
