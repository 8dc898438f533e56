package app

import (
	"log/slog"
	"net/http"

	"github.com/tidings/tidings/internal/apiroutes"
	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/registrations"
	"github.com/tidings/tidings/internal/store"
)

// mountRegistrations builds the number registrations service, binds its
// End User Messaging operations and mounts the reviewer's API, open to the
// keys of the root (operator's) account.
func mountRegistrations(db *store.DB, blobs blob.Store, api *awsapi.Server, mux *http.ServeMux,
	region, operatorAccount string, log *slog.Logger) (*registrations.Service, error) {
	regs, err := registrations.New(db.Registrations(), blobs, registrations.Config{Region: region}, log.With("component", "registrations"))
	if err != nil {
		return nil, err
	}
	apiroutes.Registrations(api, regs)
	h := regs.NativeHandler(awsapi.NativeAuthenticator{Server: api, SigningName: "sms-voice"}, operatorAccount)
	mux.Handle(registrations.NativePrefix, h)
	mux.Handle(registrations.NativePrefix+"/", h)
	return regs, nil
}
