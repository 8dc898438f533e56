package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/events"
	"github.com/tidings/tidings/internal/kms"
	"github.com/tidings/tidings/internal/standins"
	"github.com/tidings/tidings/internal/store"
)

// newStandins builds the secrets, functions and mailboxes that stand in
// for Secrets Manager, Lambda and WorkMail; secrets are sealed with the
// master key of keys.
func newStandins(db *store.DB, keys *kms.Service, region string, log *slog.Logger) (*standins.Service, error) {
	return standins.New(db.Standins(), keys, standins.Config{Region: region}, log.With("component", "standins"))
}

// mountStandins mounts their API under /v1/secrets, /v1/functions and
// /v1/mailboxes.
func mountStandins(st *standins.Service, api *awsapi.Server, mux *http.ServeMux) {
	h := st.NativeHandler(awsapi.NativeAuthenticator{Server: api, SigningName: standins.SigningName, MaxBody: standins.MaxSecretBytes + 4096})
	for _, p := range []string{standins.SecretsPath, standins.FunctionsPath, standins.MailboxesPath} {
		mux.Handle(p, h)
		mux.Handle(p+"/", h)
	}
}

// lazyInvoker is the gateway's InvokeLambda REQUEST_RESPONSE through the
// events service, built after the gateway; it is set before any job runs.
type lazyInvoker struct{ evs *events.Service }

func (l *lazyInvoker) InvokeURL(ctx context.Context, req events.InvokeRequest) ([]byte, error) {
	return l.evs.InvokeURL(ctx, req)
}
