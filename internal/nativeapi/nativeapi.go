// Package nativeapi holds what Tidings' own JSON APIs under /v1/ share:
// errors as {"error": {"code", "message"}} with the HTTP status of their
// fault kind, and JSON answers.
package nativeapi

import (
	"encoding/json"
	"net/http"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// Authenticator checks the credentials of an HTTP request (SigV4, as the
// AWS API does) and returns the caller.
type Authenticator interface {
	Authenticate(r *http.Request) (iam.Principal, error)
}

// Authenticate checks r with auth. For a caller of an account it returns
// the request with the principal in its context; otherwise it answers
// 403 and returns false.
func Authenticate(w http.ResponseWriter, r *http.Request, auth Authenticator) (*http.Request, iam.Principal, bool) {
	p, err := auth.Authenticate(r)
	if err == nil && p.AccountID == "" {
		err = fault.AccessDeniedf("no account")
	}
	if err != nil {
		WriteError(w, err, http.StatusForbidden)
		return r, p, false
	}
	return r.WithContext(iam.WithPrincipal(r.Context(), p)), p, true
}

// WriteError answers err with the status of its kind; status, when not 0,
// is used for errors of no kind (which are then reported as AccessDenied,
// the one case callers pass it for: a failed authentication).
func WriteError(w http.ResponseWriter, err error, status int) {
	code, msg := "InternalError", "an internal error occurred"
	switch fault.KindOf(err) {
	case fault.Invalid:
		code, status, msg = "ValidationError", http.StatusBadRequest, err.Error()
	case fault.NotFound:
		code, status, msg = "NotFound", http.StatusNotFound, err.Error()
	case fault.Conflict:
		code, status, msg = "Conflict", http.StatusConflict, err.Error()
	case fault.QuotaExceeded:
		code, status, msg = "QuotaExceeded", http.StatusBadRequest, err.Error()
	case fault.AccessDenied:
		code, status, msg = "AccessDenied", http.StatusForbidden, err.Error()
	case fault.Throttled:
		code, status, msg = "Throttled", http.StatusTooManyRequests, err.Error()
	case fault.Unavailable:
		code, status, msg = "Unavailable", http.StatusServiceUnavailable, err.Error()
	default:
		if status != 0 {
			code, msg = "AccessDenied", err.Error()
		} else {
			status = http.StatusInternalServerError
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// WriteJSON answers v as JSON with status (0: 200), not to be cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if status != 0 {
		w.WriteHeader(status)
	}
	_ = json.NewEncoder(w).Encode(v)
}
