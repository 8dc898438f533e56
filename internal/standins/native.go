package standins

import (
	"net/http"

	"github.com/tidings/tidings/internal/nativeapi"
)

// The native API, SigV4-signed with the credential scope service
// SigningName, JSON in and out, errors as {"error": {"code", "message"}};
// every call acts on the caller's account:
//
//	PUT    /v1/secrets/{name}    {"value": {"key": "string", …}} → info (never the value)
//	GET    /v1/secrets           → {"secrets": [info]}
//	DELETE /v1/secrets/{name}    → 204
//	PUT    /v1/functions/{name}  {"url", "secret"?} → info
//	GET    /v1/functions         → {"functions": [info]}
//	DELETE /v1/functions/{name}  → 204
//	PUT    /v1/mailboxes/{name}  {"lmtp": "host:port"} or {"maildir": "/path"} → info
//	GET    /v1/mailboxes         → {"mailboxes": [info]}
//	DELETE /v1/mailboxes/{name}  → 204
//
// {name} may be the name or the ARN (URL-escaped); secret names may hold '/'.

// Paths the API serves under; mount NativeHandler at each, with and
// without a trailing slash.
const (
	SecretsPath   = "/v1/secrets"
	FunctionsPath = "/v1/functions"
	MailboxesPath = "/v1/mailboxes"
)

// SigningName is the credential scope service of the API: these stand-ins
// serve the email gateway.
const SigningName = "ses"

// maxBody bounds a request body.
const maxBody = MaxSecretBytes + 4096

// NativeHandler serves the API for the callers auth accepts.
func (s *Service) NativeHandler(auth nativeapi.Authenticator) http.Handler {
	mux := http.NewServeMux()
	handle := nativeapi.Router{Mux: mux, Auth: auth, Log: s.log, Name: "stand-ins"}.Handle
	decode := func(r *http.Request, v any) error { return nativeapi.Decode(r, v, maxBody, false) }
	lists := []struct {
		path, key string
		list      func(*Service) func(r *http.Request, acct string) ([]Info, error)
		kind      Kind
	}{
		{SecretsPath, "secrets", func(s *Service) func(*http.Request, string) ([]Info, error) {
			return func(r *http.Request, a string) ([]Info, error) { return s.ListSecrets(r.Context(), a) }
		}, KindSecret},
		{FunctionsPath, "functions", func(s *Service) func(*http.Request, string) ([]Info, error) {
			return func(r *http.Request, a string) ([]Info, error) { return s.ListFunctions(r.Context(), a) }
		}, KindFunction},
		{MailboxesPath, "mailboxes", func(s *Service) func(*http.Request, string) ([]Info, error) {
			return func(r *http.Request, a string) ([]Info, error) { return s.ListMailboxes(r.Context(), a) }
		}, KindMailbox},
	}
	for _, l := range lists {
		list, key, kind := l.list(s), l.key, l.kind
		handle("GET "+l.path, func(w http.ResponseWriter, r *http.Request, acct string) error {
			out, err := list(r, acct)
			if err != nil {
				return err
			}
			nativeapi.WriteJSON(w, 0, map[string]any{key: out})
			return nil
		})
		handle("DELETE "+l.path+"/{name...}", func(w http.ResponseWriter, r *http.Request, acct string) error {
			if err := s.Delete(r.Context(), kind, acct, r.PathValue("name")); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		})
	}
	handle("PUT "+SecretsPath+"/{name...}", func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in struct {
			Value map[string]string `json:"value"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		out, err := s.PutSecret(r.Context(), acct, r.PathValue("name"), in.Value)
		if err != nil {
			return err
		}
		nativeapi.WriteJSON(w, 0, out)
		return nil
	})
	handle("PUT "+FunctionsPath+"/{name}", func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in struct {
			URL    string `json:"url"`
			Secret string `json:"secret"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		out, err := s.PutFunction(r.Context(), acct, r.PathValue("name"), in.URL, in.Secret)
		if err != nil {
			return err
		}
		nativeapi.WriteJSON(w, 0, out)
		return nil
	})
	handle("PUT "+MailboxesPath+"/{name}", func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in struct {
			LMTP    string `json:"lmtp"`
			Maildir string `json:"maildir"`
		}
		if err := decode(r, &in); err != nil {
			return err
		}
		out, err := s.PutMailbox(r.Context(), acct, r.PathValue("name"), in.LMTP, in.Maildir)
		if err != nil {
			return err
		}
		nativeapi.WriteJSON(w, 0, out)
		return nil
	})
	return mux
}
