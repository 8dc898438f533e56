package iam

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
)

// Session durations of a role, as IAM bounds MaxSessionDuration.
const (
	DefaultMaxSessionDuration = time.Hour
	MinMaxSessionDuration     = time.Hour
	MaxMaxSessionDuration     = 12 * time.Hour
)

var (
	// IAM's role name pattern and length (CreateRole RoleName).
	roleNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	// IAM's path pattern: "/" or "/" printable ASCII "/" (CreateRole Path),
	// at most 512 characters.
	rolePathRE  = regexp.MustCompile(`^(/|/[\x21-\x7E]+/)$`)
	accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)
)

// Role is an IAM role: an identity of an account that callers of the
// accounts it trusts may assume with STS AssumeRole, receiving temporary
// credentials that act as that account.
type Role struct {
	AccountID string
	Name      string
	// Path is "/" or "/a/b/", as IAM spells it; it shows in the role's
	// ARN, not in the assumed-role ARN.
	Path string
	// RoleID is the unique id IAM gives a role: "AROA" and 17 characters.
	RoleID string
	// TrustedAccounts are the other accounts whose callers may assume the
	// role; the role's own account is always trusted.
	TrustedAccounts    []string
	MaxSessionDuration time.Duration
	CreatedAt          time.Time
}

// ARN is arn:aws:iam::<account>:role<path><name>.
func (r *Role) ARN() string {
	return "arn:aws:iam::" + r.AccountID + ":role" + r.Path + r.Name
}

// Trusts reports whether callers of account may assume r.
func (r *Role) Trusts(account string) bool {
	return account == r.AccountID || slices.Contains(r.TrustedAccounts, account)
}

// NewRole returns a role of account named by pathName ("name" or
// "path/to/name", the ARN's resource after "role/"), trusting the other
// accounts trusted, with the given maximum session duration (0 is IAM's
// default, an hour). fault.Invalid names what is wrong.
func NewRole(account, pathName string, trusted []string, maxSession time.Duration) (*Role, error) {
	if !accountIDRE.MatchString(account) {
		return nil, fault.Invalidf("account id %q: want 12 digits", account)
	}
	path, name := "/", strings.TrimPrefix(pathName, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		path, name = "/"+name[:i+1], name[i+1:]
	}
	if err := validRoleName(name); err != nil {
		return nil, err
	}
	if len(path) > 512 || !rolePathRE.MatchString(path) {
		return nil, fault.Invalidf("role path %q: want / or /segments/ of printable ASCII, at most 512 characters", path)
	}
	if maxSession == 0 {
		maxSession = DefaultMaxSessionDuration
	}
	if maxSession < MinMaxSessionDuration || maxSession > MaxMaxSessionDuration || maxSession%time.Second != 0 {
		return nil, fault.Invalidf("max session duration %s: want whole seconds from %d to %d",
			maxSession, int(MinMaxSessionDuration/time.Second), int(MaxMaxSessionDuration/time.Second))
	}
	r := &Role{AccountID: account, Name: name, Path: path, RoleID: newID("AROA", 17),
		MaxSessionDuration: maxSession, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	for _, a := range trusted {
		if !accountIDRE.MatchString(a) {
			return nil, fault.Invalidf("trusted account id %q: want 12 digits", a)
		}
		if a != account && !slices.Contains(r.TrustedAccounts, a) {
			r.TrustedAccounts = append(r.TrustedAccounts, a)
		}
	}
	slices.Sort(r.TrustedAccounts)
	return r, nil
}

func validRoleName(name string) error {
	if !roleNameRE.MatchString(name) {
		return fault.Invalidf("role name %q: want 1 to 64 characters of letters, digits and +=,.@_-", name)
	}
	return nil
}

// ParseRoleARN splits arn:aws:iam::<account>:role<path><name>.
func ParseRoleARN(arn string) (account, path, name string, err error) {
	bad := fault.Invalidf("%s is not a role ARN (arn:aws:iam::<account>:role/<name>)", arn)
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "iam" || parts[3] != "" {
		return "", "", "", bad
	}
	account, res := parts[4], parts[5]
	if !accountIDRE.MatchString(account) || !strings.HasPrefix(res, "role/") {
		return "", "", "", bad
	}
	res = strings.TrimPrefix(res, "role")
	i := strings.LastIndexByte(res, '/')
	path, name = res[:i+1], res[i+1:]
	if validRoleName(name) != nil || !rolePathRE.MatchString(path) {
		return "", "", "", bad
	}
	return account, path, name, nil
}

// newID returns prefix and n characters of uppercase base32 from
// crypto/rand, the shape of AWS's unique ids (AROA..., ASIA...).
func newID(prefix string, n int) string {
	b := make([]byte, (n*5+7)/8)
	rand.Read(b)
	return prefix + base32.StdEncoding.EncodeToString(b)[:n]
}

// AssumedRoleARN is the ARN of a session of role r:
// arn:aws:sts::<account>:assumed-role/<name>/<session> (no path).
func AssumedRoleARN(r *Role, session string) string {
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", r.AccountID, r.Name, session)
}
