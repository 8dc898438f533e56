// Package nativeapi writes the answers of Tidings' own JSON APIs (under
// /v1/: the archive search, the registrations reviewer, …): a JSON value,
// or an error as {"error": {"code", "message"}} with the HTTP status of its
// fault kind, so that every native API fails alike.
package nativeapi

import (
	"encoding/json"
	"net/http"

	"github.com/tidings/tidings/internal/fault"
)

// JSON answers v as JSON, not to be cached.
func JSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers err with the status of its kind (status, when not 0, for
// errors of no kind: an authenticator's). An error of no kind and no status
// is internal: its text is not shown.
func Error(w http.ResponseWriter, err error, status int) {
	code, msg := "InternalError", "an internal error occurred"
	switch fault.KindOf(err) {
	case fault.Invalid:
		code, status, msg = "ValidationError", http.StatusBadRequest, err.Error()
	case fault.NotFound:
		code, status, msg = "NotFound", http.StatusNotFound, err.Error()
	case fault.Conflict:
		code, status, msg = "Conflict", http.StatusConflict, err.Error()
	case fault.AccessDenied:
		code, status, msg = "AccessDenied", http.StatusForbidden, err.Error()
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
