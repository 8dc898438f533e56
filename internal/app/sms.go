package app

import (
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/tidings/tidings/internal/apiroutes"
	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/sms"
	"github.com/tidings/tidings/internal/sms/simulator"
	"github.com/tidings/tidings/internal/sms/tts"
	"github.com/tidings/tidings/internal/store"
)

// newSMS builds End User Messaging SMS and voice: the service over the
// simulator (no carrier yet), its jobs, its API operations and its native
// endpoints. regs, when not nil, holds numbers tied to a registration
// until it is COMPLETE. publisher may be nil (events are then only logged). The
// caller starts it (Start) and closes it when draining.
func newSMS(db *store.DB, api *awsapi.Server, mux *http.ServeMux, region, dataDir string, publisher sms.Publisher, regs sms.Registrations, log *slog.Logger) (*sms.Service, error) {
	log = log.With("component", "sms")
	sim := simulator.New(filepath.Join(dataDir, "sms-simulator"), log)
	cfg := sms.Config{Region: region, Simulator: sim, Publisher: publisher, Registrations: regs}
	if e := (tts.Espeak{}); e.Available() {
		cfg.Synthesizer = e
	} else {
		log.Warn("espeak-ng not found: SendVoiceMessage is unavailable")
	}
	svc, err := sms.New(db.SMS(), cfg, log)
	if err != nil {
		return nil, err
	}
	if err := svc.Register(db.Jobs()); err != nil {
		return nil, err
	}
	apiroutes.SMSVoice(api, svc)
	mux.Handle(sms.NativePrefix, svc.NativeHandler(awsapi.NativeAuthenticator{Server: api, SigningName: "sms-voice"}, sim))
	return svc, nil
}
