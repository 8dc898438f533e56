package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"

	"github.com/tidings/tidings/internal/apiroutes"
	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/smpp"
	"github.com/tidings/tidings/internal/sms"
	"github.com/tidings/tidings/internal/sms/httpcarrier"
	"github.com/tidings/tidings/internal/sms/simulator"
	"github.com/tidings/tidings/internal/sms/smppcarrier"
	"github.com/tidings/tidings/internal/sms/tts"
	"github.com/tidings/tidings/internal/sms/whatsapp"
	"github.com/tidings/tidings/internal/store"
)

// newSMS builds End User Messaging SMS and voice: the service over the
// simulator and, when TIDINGS_SMPP_ADDR is set, an SMPP carrier for the
// messages the simulator does not take; its jobs, its API operations and its native
// endpoints. regs, when not nil, holds numbers tied to a registration
// until it is COMPLETE. publisher may be nil (events are then only logged). The
// caller starts it (Start) and closes it when draining.
func newSMS(db *store.DB, api *awsapi.Server, mux *http.ServeMux, conf *config.Config, publisher sms.Publisher, regs sms.Registrations, log *slog.Logger) (*sms.Service, error) {
	log = log.With("component", "sms")
	sim := simulator.New(filepath.Join(conf.DataDir, "sms-simulator"), log)
	cfg := sms.Config{Region: conf.Region, Simulator: sim, Publisher: publisher, Registrations: regs, NodeID: conf.Node()}
	if conf.SMPPAddr != "" {
		rate, _ := conf.SMPPRateValue()     // checked by Validate
		window, _ := conf.SMPPWindowValue() // checked by Validate
		cfg.Carrier = smppcarrier.New(smpp.Config{
			Addr: conf.SMPPAddr, SystemID: conf.SMPPSystemID, Password: conf.SMPPPassword,
			SystemType: conf.SMPPSystemType, Rate: float64(rate), Window: window,
		}, log)
	}
	if conf.SMSHTTPProvider != "" {
		gw, err := httpcarrier.Load(conf.SMSHTTPProvider)
		if err != nil {
			return nil, fmt.Errorf("TIDINGS_SMS_HTTP_PROVIDER %s: %w", conf.SMSHTTPProvider, err)
		}
		c := httpcarrier.New(gw, nil, log)
		cfg.Carrier = c
		mux.Handle(c.WebhookPath(), c.Handler())
	}
	if conf.WhatsAppConfig != "" {
		wc, err := whatsapp.Load(conf.WhatsAppConfig)
		if err != nil {
			return nil, fmt.Errorf("TIDINGS_WHATSAPP_CONFIG %s: %w", conf.WhatsAppConfig, err)
		}
		wa := whatsapp.New(wc, nil, log)
		for _, n := range wc.Numbers {
			cfg.Dedicated = append(cfg.Dedicated, sms.DedicatedNumber{AccountID: n.AccountID, Number: n.PhoneNumber, Provider: wa,
				Capabilities: []smsvoice.NumberCapability{smsvoice.NumberCapabilitySms, smsvoice.NumberCapabilityMms},
				Tags:         map[string]string{"tidings:channel": "WHATSAPP", "tidings:whatsapp-phone-number-id": n.PhoneNumberID}})
		}
		mux.Handle(whatsapp.WebhookPath, wa.Handler())
	}
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
