package registrations

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// The reviewer's API, for the operator (`tidings registrations …`), signed
// with SigV4 like every other call:
//
//	GET  /v1/registrations?account=&status=&type=&limit=
//	     → {"registrations": [Summary, …]}  (oldest first)
//	POST /v1/registrations/{id}/review?account=
//	     {"decision": "approve" | "request-updates" | "start-review",
//	      "reason": "…", "description": "…", "fields": {"path": "feedback"}}
//	     → Summary
//
// Errors are {"error": {"code", "message"}} with the status of their kind.
// Only keys of the operator's account may call it: the registrations of
// every account are reviewed there, and no account reviews its own.

// NativePrefix is the path the reviewer's API serves under.
const NativePrefix = "/v1/registrations"

// Authenticator verifies a request's signature and says who signed it.
type Authenticator interface {
	Authenticate(r *http.Request) (iam.Principal, error)
}

// NativeHandler serves the reviewer's API to callers auth accepts whose
// account is operatorAccount.
func (s *Service) NativeHandler(auth Authenticator, operatorAccount string) http.Handler {
	mux := http.NewServeMux()
	guard := func(w http.ResponseWriter, r *http.Request) (iam.Principal, bool) {
		p, err := auth.Authenticate(r)
		if err != nil {
			writeJSONError(w, err, http.StatusForbidden)
			return p, false
		}
		if p.AccountID == "" || p.AccountID != operatorAccount {
			writeJSONError(w, fault.AccessDeniedf("only keys of the operator's account (%s) may review registrations", operatorAccount), 0)
			return p, false
		}
		return p, true
	}
	mux.HandleFunc("GET "+NativePrefix, func(w http.ResponseWriter, r *http.Request) {
		p, ok := guard(w, r)
		if !ok {
			return
		}
		q := r.URL.Query()
		f := ListFilter{AccountID: q.Get("account")}
		if v := q.Get("status"); v != "" {
			f.Statuses = strings.Split(strings.ToUpper(v), ",")
		}
		if v := q.Get("type"); v != "" {
			f.Types = strings.Split(v, ",")
		}
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeJSONError(w, fault.Invalidf("limit must be a positive integer"), 0)
				return
			}
			f.Limit = n
		}
		list, err := s.List(iam.WithPrincipal(r.Context(), p), f)
		if err != nil {
			s.nativeFailed(w, err)
			return
		}
		writeJSON(w, map[string]any{"registrations": list})
	})
	mux.HandleFunc("POST "+NativePrefix+"/{id}/review", func(w http.ResponseWriter, r *http.Request) {
		p, ok := guard(w, r)
		if !ok {
			return
		}
		var in ReviewInput
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			writeJSONError(w, fault.Invalidf("the body is not a review decision: %v", err), 0)
			return
		}
		sm, err := s.Review(iam.WithPrincipal(r.Context(), p), r.URL.Query().Get("account"), r.PathValue("id"), in)
		if err != nil {
			s.nativeFailed(w, err)
			return
		}
		writeJSON(w, sm)
	})
	mux.HandleFunc(NativePrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, fault.NotFoundf("no such resource: %s %s", r.Method, r.URL.Path), 0)
	})
	return mux
}

func (s *Service) nativeFailed(w http.ResponseWriter, err error) {
	if fault.KindOf(err) == fault.Internal {
		s.log.Error("registrations API failed", "err", err)
	}
	writeJSONError(w, err, 0)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// writeJSONError answers err with the status of its kind (status, when not
// 0, for errors of no kind).
func writeJSONError(w http.ResponseWriter, err error, status int) {
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
