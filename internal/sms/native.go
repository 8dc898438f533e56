package sms

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// NativePrefix is where the SMS service's own HTTP API is mounted.
const NativePrefix = "/v1/sms/"

// Authenticator verifies a native API request (SigV4) and says who made it.
type Authenticator interface {
	Authenticate(r *http.Request) (iam.Principal, error)
}

// Injector plays an inbound message (the simulator's Inject).
type Injector interface {
	Inject(ctx context.Context, in Inbound) error
}

// NativeHandler serves
//
//	GET  /v1/sms/messages/{id}       a message's status and event records
//	PUT  /v1/sms/account             {"accountTier": "SANDBOXED" | "PRODUCTION"}:
//	                                 the caller's account enters or leaves the SMS sandbox
//	POST /v1/sms/simulator/inbound   {"originationNumber", "destinationNumber", "messageBody"}:
//	                                 a person sends a message to one of the caller's numbers
func (s *Service) NativeHandler(auth Authenticator, inject Injector) http.Handler {
	mux := http.NewServeMux()
	authed := func(h func(w http.ResponseWriter, r *http.Request, accountID string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			p, err := auth.Authenticate(r)
			if err == nil && p.AccountID == "" {
				err = fault.AccessDeniedf("no account")
			}
			if err != nil {
				s.writeError(w, err)
				return
			}
			h(w, r.WithContext(iam.WithPrincipal(r.Context(), p)), p.AccountID)
		}
	}
	mux.HandleFunc("GET "+NativePrefix+"messages/{id}", authed(func(w http.ResponseWriter, r *http.Request, accountID string) {
		v, err := s.Message(r.Context(), accountID, r.PathValue("id"))
		if err != nil {
			s.writeError(w, err)
			return
		}
		writeJSON(w, v)
	}))
	mux.HandleFunc("PUT "+NativePrefix+"account", authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		var req struct {
			AccountTier string `json:"accountTier"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			s.writeError(w, fault.Invalidf("bad JSON body: %v", err))
			return
		}
		if err := s.SetAccountTier(r.Context(), req.AccountTier); err != nil {
			s.writeError(w, err)
			return
		}
		writeJSON(w, map[string]string{"accountTier": req.AccountTier})
	}))
	mux.HandleFunc("POST "+NativePrefix+"simulator/inbound", authed(func(w http.ResponseWriter, r *http.Request, accountID string) {
		var req struct {
			OriginationNumber string `json:"originationNumber"`
			DestinationNumber string `json:"destinationNumber"`
			MessageBody       string `json:"messageBody"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			s.writeError(w, fault.Invalidf("bad JSON body: %v", err))
			return
		}
		from, _, err := parseNumber(req.OriginationNumber)
		if err != nil {
			s.writeError(w, err)
			return
		}
		// Only the account holding the number may play messages to it.
		err = s.store.InTx(r.Context(), func(tx Tx) error {
			n, err := tx.GetByKey(r.Context(), KindPhoneNumber, req.DestinationNumber)
			if err == nil && n.AccountID != accountID {
				err = fault.NotFoundf("phone number %s does not exist", req.DestinationNumber)
			}
			return err
		})
		if err != nil {
			s.writeError(w, err)
			return
		}
		id := newID("")
		if err := inject.Inject(r.Context(), Inbound{ID: id, Origination: from, Destination: req.DestinationNumber, Body: req.MessageBody}); err != nil {
			s.writeError(w, err)
			return
		}
		writeJSON(w, map[string]string{"inboundMessageId": id})
	}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Service) writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch fault.KindOf(err) {
	case fault.NotFound:
		status = http.StatusNotFound
	case fault.Invalid:
		status = http.StatusBadRequest
	case fault.Conflict:
		status = http.StatusConflict
	case fault.AccessDenied:
		status = http.StatusForbidden
	case fault.Unavailable:
		status = http.StatusServiceUnavailable
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.log.Error("sms native API failed", "err", err)
		msg = "internal error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
