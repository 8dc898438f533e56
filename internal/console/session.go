package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// Cookie names. The session cookie is HttpOnly and SameSite=Strict: a
// page of another site can neither read it nor make the browser send it.
const (
	sessionCookie = "tidings_console"
	loginCookie   = "tidings_console_login" // the login form's CSRF token
)

// session is a logged-in person.
type session = Session

func (s *Session) principal() iam.Principal {
	return iam.Principal{AccountID: s.AccountID, AccessKeyID: s.AccessKeyID, ARN: "arn:aws:iam::" + s.AccountID + ":root"}
}

// sessions are the console's sessions, kept in the database (so that they
// survive a restart and every node knows them) by the SHA-256 of their
// random 256-bit ID.
type sessions struct {
	store    SessionStore
	now      func() time.Time
	idle     time.Duration
	absolute time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	swept time.Time
}

// touchEvery is how stale a session's last-seen time may get before a
// request writes it again: the idle timeout is kept to within that, and a
// busy console does not write on every request.
const touchEvery = time.Minute

func newSessions(store SessionStore, now func() time.Time, idle, absolute time.Duration, log *slog.Logger) *sessions {
	return &sessions{store: store, now: now, idle: idle, absolute: absolute, log: log}
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func keyOf(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// create starts a session and returns its ID (the cookie's value).
func (ss *sessions) create(ctx context.Context, s *session) (string, error) {
	id := randomToken()
	now := ss.now().UTC()
	s.Key, s.CreatedAt, s.SeenAt, s.CSRF = keyOf(id), now, now, randomToken()
	if err := ss.store.CreateSession(ctx, s); err != nil {
		return "", err
	}
	ss.mu.Lock()
	sweep := now.Sub(ss.swept) > time.Minute
	if sweep {
		ss.swept = now
	}
	ss.mu.Unlock()
	if sweep {
		if n, err := ss.store.DeleteExpiredSessions(ctx, now.Add(-ss.idle), now.Add(-ss.absolute)); err != nil {
			ss.log.Warn("console: deleting ended sessions", "err", err)
		} else if n > 0 {
			ss.log.Debug("console: deleted ended sessions", "count", n)
		}
	}
	return id, nil
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.SeenAt) >= ss.idle || now.Sub(s.CreatedAt) >= ss.absolute
}

// lookup returns the session of a request, marking it used (touch) or
// not; an ended session is deleted. ok is false for none; err is a
// storage failure.
func (ss *sessions) lookup(r *http.Request, touch bool) (s *session, ok bool, err error) {
	ck, cerr := r.Cookie(sessionCookie)
	if cerr != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, false, nil
	}
	ctx := r.Context()
	key := keyOf(ck.Value)
	s, err = ss.store.GetSession(ctx, key)
	if fault.Is(err, fault.NotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	now := ss.now().UTC()
	if ss.expired(s, now) {
		return nil, false, ss.store.DeleteSession(ctx, key)
	}
	if touch && now.Sub(s.SeenAt) >= touchEvery {
		if err := ss.store.TouchSession(ctx, key, now); err != nil {
			return nil, false, err
		}
		s.SeenAt = now
	}
	return s, true, nil
}

// peek is lookup without touching, and without storage errors (for error
// pages, which show the navigation when there is a session).
func (ss *sessions) peek(r *http.Request) (*session, bool) {
	s, ok, _ := ss.lookup(r, false)
	return s, ok
}

// delete ends the session of a request.
func (ss *sessions) delete(r *http.Request) error {
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		return ss.store.DeleteSession(r.Context(), keyOf(ck.Value))
	}
	return nil
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
		s, ok, err := c.sessions.lookup(r, true)
		if err == nil && ok && s.AccessKeyID != "" {
			ok, err = c.keyActive(r, s)
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
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

// keyActive says whether the access key a session logged in with still
// exists and is active; a session of a deleted or deactivated key ends.
func (c *Console) keyActive(r *http.Request, s *session) (bool, error) {
	k, err := c.cfg.Credentials.GetAccessKey(r.Context(), s.AccessKeyID)
	if fault.Is(err, fault.NotFound) || err == nil && k.Status != "" && k.Status != iam.StatusActive {
		c.log.Info("console: session ended, its access key is gone or inactive", "account", s.AccountID, "key", s.AccessKeyID)
		return false, c.sessions.store.DeleteSession(r.Context(), s.Key)
	}
	return err == nil, err
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
