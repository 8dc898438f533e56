package registrations

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/nativeapi"
)

// The reviewer's API, for the operator (`tidings registrations …`), signed
// with SigV4 like every other call:
//
//	GET  /v1/registrations?account=&status=&type=&limit=
//	     → {"registrations": [Summary, …]}  (oldest first)
//	GET  /v1/registrations/{id}?account=
//	     → Detail (the field values of the current version)
//	GET  /v1/registrations/{id}/attachments/{attachmentId}?account=
//	     → the attachment's bytes (an attachment its fields name)
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
			nativeapi.WriteError(w, err, http.StatusForbidden)
			return p, false
		}
		if p.AccountID == "" || p.AccountID != operatorAccount {
			nativeapi.WriteError(w, fault.AccessDeniedf("only keys of the operator's account (%s) may review registrations", operatorAccount), 0)
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
				nativeapi.WriteError(w, fault.Invalidf("limit must be a positive integer"), 0)
				return
			}
			f.Limit = n
		}
		list, err := s.List(iam.WithPrincipal(r.Context(), p), f)
		if err != nil {
			s.nativeFailed(w, err)
			return
		}
		nativeapi.WriteJSON(w, 0, map[string]any{"registrations": list})
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
			nativeapi.WriteError(w, fault.Invalidf("the body is not a review decision: %v", err), 0)
			return
		}
		sm, err := s.Review(iam.WithPrincipal(r.Context(), p), r.URL.Query().Get("account"), r.PathValue("id"), in)
		if err != nil {
			s.nativeFailed(w, err)
			return
		}
		nativeapi.WriteJSON(w, 0, sm)
	})
	mux.HandleFunc("GET "+NativePrefix+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := guard(w, r)
		if !ok {
			return
		}
		d, err := s.Show(iam.WithPrincipal(r.Context(), p), r.URL.Query().Get("account"), r.PathValue("id"))
		if err != nil {
			s.nativeFailed(w, err)
			return
		}
		nativeapi.WriteJSON(w, 0, d)
	})
	mux.HandleFunc("GET "+NativePrefix+"/{id}/attachments/{att}", func(w http.ResponseWriter, r *http.Request) {
		p, ok := guard(w, r)
		if !ok {
			return
		}
		ctx := iam.WithPrincipal(r.Context(), p)
		// Only an attachment the registration's fields name: the
		// reviewer reads what was submitted, not an account's uploads.
		d, err := s.Show(ctx, r.URL.Query().Get("account"), r.PathValue("id"))
		if err != nil {
			s.nativeFailed(w, err)
			return
		}
		att := r.PathValue("att")
		if !slices.ContainsFunc(d.Fields, func(f FieldDetail) bool { return f.AttachmentID == att }) {
			nativeapi.WriteError(w, fault.NotFoundf("registration %s names no attachment %s", d.ID, att), 0)
			return
		}
		rc, a, err := s.AttachmentContent(ctx, d.AccountID, att)
		if err != nil {
			s.nativeFailed(w, err)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", a.ContentType)
		w.Header().Set("Content-Length", strconv.FormatInt(a.Size, 10))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Disposition", `attachment; filename="`+a.ID+extension(a.ContentType)+`"`)
		if _, err := io.Copy(w, rc); err != nil {
			s.log.Warn("registration attachment download cut short", "attachment", a.ID, "err", err)
		}
	})
	mux.HandleFunc(NativePrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		nativeapi.WriteError(w, fault.NotFoundf("no such resource: %s %s", r.Method, r.URL.Path), 0)
	})
	return mux
}

func extension(contentType string) string {
	switch contentType {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "application/pdf":
		return ".pdf"
	}
	return ""
}

func (s *Service) nativeFailed(w http.ResponseWriter, err error) {
	if fault.KindOf(err) == fault.Internal {
		s.log.Error("registrations API failed", "err", err)
	}
	nativeapi.WriteError(w, err, 0)
}
