package nativeapi

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/tidings/tidings/internal/fault"
)

// Func serves one route of a native API for the caller's account; the
// error it returns is the answer (WriteError).
type Func func(w http.ResponseWriter, r *http.Request, accountID string) error

// Router registers the routes of one native API on a mux: each request is
// authenticated first, and an error of kind Internal is logged, as
// "<Name> API failed", before it is answered.
type Router struct {
	Mux  *http.ServeMux
	Auth Authenticator
	Log  *slog.Logger
	Name string // in log lines: "topics", "stand-ins"
}

// Handle serves pattern with fn.
func (rt Router) Handle(pattern string, fn Func) {
	rt.Mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r, p, ok := Authenticate(w, r, rt.Auth)
		if !ok {
			return
		}
		if err := fn(w, r, p.AccountID); err != nil {
			if fault.KindOf(err) == fault.Internal {
				rt.Log.Error(rt.Name+" API failed", "method", r.Method, "path", r.URL.Path, "account", p.AccountID, "err", err)
			}
			WriteError(w, err, 0)
		}
	})
}

// Decode reads a JSON request body of at most max bytes into v. An empty
// body leaves v as it is; with strict, unknown fields are refused.
// Errors are fault.Invalid.
func Decode(r *http.Request, v any, max int64, strict bool) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return fault.Invalidf("reading the request: %v", err)
	}
	if int64(len(b)) > max {
		return fault.Invalidf("request body over %d bytes", max)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fault.Invalidf("request body: %v", err)
	}
	return nil
}
