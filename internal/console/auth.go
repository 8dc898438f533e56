package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// PasswordSetting is the IAM setting holding the console password hash of
// an account.
func PasswordSetting(accountID string) string { return "console-password/" + accountID }

// Password rules.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

// Argon2id parameters: RFC 9106 4's second recommended option (64 MiB,
// three passes), on two lanes.
var argonParams = argon2Params{time: 3, memory: 64 << 10, threads: 2}

type argon2Params struct {
	time, memory uint32 // passes, KiB
	threads      uint8
}

// HashPassword returns the argon2id hash of a console password in the PHC
// string format ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
func HashPassword(password string) (string, error) {
	if err := CheckPassword(password); err != nil {
		return "", err
	}
	return hashPassword(password, argonParams), nil
}

func hashPassword(password string, p argon2Params) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword says whether a password may be set.
func CheckPassword(password string) error {
	switch n := utf8.RuneCountInString(password); {
	case !utf8.ValidString(password):
		return fault.Invalidf("the password is not valid UTF-8")
	case n < MinPasswordLen:
		return fault.Invalidf("the password must have at least %d characters (it has %d)", MinPasswordLen, n)
	case len(password) > MaxPasswordLen:
		return fault.Invalidf("the password must have at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// VerifyPassword says whether password matches a hash of HashPassword,
// comparing in constant time.
func VerifyPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("console: not an argon2id hash")
	}
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("console: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<21 || t == 0 || t > 20 || p == 0 {
		return false, errors.New("console: bad argon2 parameters")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) < 16 {
		return false, errors.New("console: bad argon2 salt or hash")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when an account has no password, so that
// the answer takes as long as for one that has.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("no such password, only for timing")
	return h
})

type loginData struct {
	Error    string
	Identity string
	Next     string
	Token    string
}

// loginPage shows the login form, with a fresh CSRF token in a cookie and
// the form (double submit: a page of another site can read neither).
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessions.peek(r); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, loginData{Next: r.URL.Query().Get("next")})
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	// The token of an earlier login page stays, so that two open login
	// pages (tabs) both work.
	if ck, err := r.Cookie(loginCookie); err == nil && len(ck.Value) == 43 {
		d.Token = ck.Value
	} else {
		d.Token = randomToken()
	}
	setCookie(w, r, loginCookie, d.Token, 3600)
	d.Next = safeNext(d.Next)
	c.render(w, r, status, "login", "Log in", nil, d)
}

// safeNext keeps a post-login destination within the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/"
	}
	return next
}

// login checks the form: an access key ID with its secret, or an account
// ID with its console password.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCookie)
	if err != nil || !c.checkCSRF(r, ck.Value) {
		c.errorPage(w, r, http.StatusForbidden, "Form expired",
			"The login form was not accepted (its security token is missing or wrong). Reload the login page and try again.")
		return
	}
	client := clientKey(r)
	identity := strings.TrimSpace(r.PostFormValue("identity"))
	secret := r.PostFormValue("secret")
	next := r.PostFormValue("next")
	if c.throttle.blocked(client) {
		c.showLogin(w, r, http.StatusTooManyRequests, loginData{Identity: identity, Next: next,
			Error: "Too many failed logins from your address. Wait a few minutes and try again."})
		return
	}
	s, err := c.verify(r.Context(), identity, secret)
	if err != nil {
		if !errors.Is(err, errBadLogin) {
			c.fail(w, r, err)
			return
		}
		c.log.Info("console: failed login", "client", client, "identity", identity)
		c.throttle.fail(r.Context(), client)
		c.showLogin(w, r, http.StatusUnauthorized, loginData{Identity: identity, Next: next,
			Error: "The ID or the secret is wrong."})
		return
	}
	c.throttle.succeed(client)
	if err := c.sessions.delete(r); err != nil { // a fresh ID at every login
		c.fail(w, r, err)
		return
	}
	id, err := c.sessions.create(r.Context(), s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	setCookie(w, r, sessionCookie, id, 0)
	setCookie(w, r, loginCookie, "", -1)
	c.log.Info("console: login", "account", s.AccountID, "method", s.Method, "client", client)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

var errBadLogin = errors.New("bad login")

// verify checks credentials and returns the session they open.
func (c *Console) verify(ctx context.Context, identity, secret string) (*session, error) {
	if identity == "" || secret == "" || len(identity) > 128 || len(secret) > MaxPasswordLen {
		return nil, errBadLogin
	}
	// An access key pair.
	if !IsAccountID(identity) {
		k, err := c.cfg.Credentials.GetAccessKey(ctx, identity)
		if fault.Is(err, fault.NotFound) {
			return nil, errBadLogin
		}
		if err != nil {
			return nil, err
		}
		ok := subtle.ConstantTimeCompare([]byte(k.SecretAccessKey), []byte(secret)) == 1
		if !ok || (k.Status != "" && k.Status != iam.StatusActive) {
			return nil, errBadLogin
		}
		return &session{AccountID: k.AccountID, AccessKeyID: k.AccessKeyID, Method: "access key"}, nil
	}
	// An account and its console password.
	hash, found, err := c.cfg.Credentials.GetSetting(ctx, PasswordSetting(identity))
	if err != nil {
		return nil, err
	}
	select {
	case c.hashing <- struct{}{}:
		defer func() { <-c.hashing }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if !found {
		_, _ = VerifyPassword(dummyHash(), secret)
		return nil, errBadLogin
	}
	ok, err := VerifyPassword(hash, secret)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBadLogin
	}
	return &session{AccountID: identity, Method: "password"}, nil
}

// IsAccountID says whether s has the shape of an account ID (12 digits).
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// logout ends the session.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.sessions.delete(r); err != nil {
		c.fail(w, r, err)
		return
	}
	setCookie(w, r, sessionCookie, "", -1)
	c.log.Info("console: logout", "account", s.AccountID)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}
