package events

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/nativeapi"
)

// The native API, SigV4-signed with the credential scope service
// SigningName, JSON in and out, errors as {"error": {"code", "message"}}:
//
//	POST   /v1/topics                                   {"name"} → 201 topic
//	GET    /v1/topics                                   → {"topics": [topic]}
//	GET    /v1/topics/{name}                            → topic
//	DELETE /v1/topics/{name}                            → 204
//	POST   /v1/topics/{name}/publish                    body: the message → 201 {"event_id"}
//	POST   /v1/topics/{name}/subscriptions              {"url", "secret"?, "filter"?} → 201 subscription, with its secret
//	GET    /v1/topics/{name}/subscriptions              → {"subscriptions": [subscription]}
//	DELETE /v1/topics/{name}/subscriptions/{id}         → 204
//	GET    /v1/topics/{name}/events?limit=&before=      → {"events": [event], "next_before"?}
//	GET    /v1/topics/{name}/events/{id}                → event with its deliveries
//	GET    /v1/topics/{name}/dead-letters?limit=&after= → {"dead_letters": [delivery], "next_after"?}
//	POST   /v1/topics/{name}/dead-letters/redrive       {"event_id"?, "subscription_id"?} → {"redriven": n}

// NativePrefix is the path the topics API serves under; mount
// NativeHandler at NativePrefix and NativePrefix+"/".
const NativePrefix = "/v1/topics"

// SigningName is the credential scope service of the topics API.
const SigningName = "sns"

// Authenticator checks the credentials of an HTTP request (SigV4, as the
// AWS API does) and returns the caller.
type Authenticator = nativeapi.Authenticator

// TopicJSON is a topic as the API shows it.
type TopicJSON struct {
	Name        string    `json:"name"`
	ARN         string    `json:"arn"`
	EventBusARN string    `json:"event_bus_arn"`
	CreatedAt   time.Time `json:"created_at"`
}

// SubscriptionJSON is a subscription as the API shows it. Secret is set
// only in the answer to its creation.
type SubscriptionJSON struct {
	ID            string           `json:"id"`
	Topic         string           `json:"topic"`
	URL           string           `json:"url"`
	Filter        json.RawMessage  `json:"filter,omitempty"`
	Secret        string           `json:"secret,omitempty"`
	CreatedAt     time.Time        `json:"created_at"`
	Deliveries    map[string]int64 `json:"deliveries,omitempty"`
	LastAttemptAt *time.Time       `json:"last_attempt_at,omitempty"`
}

// EventJSON is an event as the API shows it: the message as text when it
// is UTF-8, else in base64.
type EventJSON struct {
	ID            string         `json:"id"`
	Topic         string         `json:"topic"`
	CreatedAt     time.Time      `json:"created_at"`
	Size          int            `json:"size"`
	Message       *string        `json:"message,omitempty"`
	MessageBase64 string         `json:"message_base64,omitempty"`
	Deliveries    []DeliveryJSON `json:"deliveries,omitempty"`
}

// DeliveryJSON is a delivery as the API shows it.
type DeliveryJSON struct {
	EventID        string     `json:"event_id"`
	SubscriptionID string     `json:"subscription_id"`
	State          string     `json:"state"`
	Attempts       int        `json:"attempts"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	DeadlineAt     time.Time  `json:"deadline_at"`
	LastStatus     int        `json:"last_status,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
}

func (s *Service) topicJSON(t *Topic) TopicJSON {
	return TopicJSON{Name: t.Name, ARN: TopicARN(s.cfg.Region, t.AccountID, t.Name),
		EventBusARN: "arn:aws:events:" + s.cfg.Region + ":" + t.AccountID + ":event-bus/" + t.Name, CreatedAt: t.CreatedAt}
}

func subscriptionJSON(sub *Subscription) SubscriptionJSON {
	out := SubscriptionJSON{ID: sub.ID, Topic: sub.Topic, URL: sub.URL, Secret: sub.Secret, CreatedAt: sub.CreatedAt}
	if sub.Filter != "" {
		out.Filter = json.RawMessage(sub.Filter)
	}
	return out
}

func eventJSON(ev *Event) EventJSON {
	out := EventJSON{ID: ev.ID, Topic: ev.Topic, CreatedAt: ev.CreatedAt, Size: len(ev.Body)}
	if utf8.Valid(ev.Body) {
		m := string(ev.Body)
		out.Message = &m
	} else {
		out.MessageBase64 = base64.StdEncoding.EncodeToString(ev.Body)
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func deliveryJSON(d *Delivery) DeliveryJSON {
	out := DeliveryJSON{EventID: d.EventID, SubscriptionID: d.SubscriptionID, State: string(d.State), Attempts: d.Attempts,
		LastAttemptAt: timePtr(d.LastAttemptAt), DeadlineAt: d.DeadlineAt, LastStatus: d.LastStatus,
		LastError: d.LastError, CreatedAt: d.CreatedAt}
	if d.State == Pending {
		out.NextAttemptAt = timePtr(d.NextAttemptAt)
	}
	return out
}

// NativeHandler serves the topics API for the callers auth accepts.
func (s *Service) NativeHandler(auth Authenticator) http.Handler {
	mux := http.NewServeMux()
	// handle registers an operation: fn gets the caller's account and
	// answers, or returns an error to answer instead.
	handle := nativeapi.Router{Mux: mux, Auth: auth, Log: s.log, Name: "topics"}.Handle

	handle("POST "+NativePrefix, func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := decodeBody(r, &in); err != nil {
			return err
		}
		t, err := s.CreateTopic(r.Context(), acct, in.Name)
		if err != nil {
			return err
		}
		nativeapi.WriteJSON(w, http.StatusCreated, s.topicJSON(t))
		return nil
	})
	handle("GET "+NativePrefix, func(w http.ResponseWriter, r *http.Request, acct string) error {
		ts, err := s.ListTopics(r.Context(), acct)
		if err != nil {
			return err
		}
		out := make([]TopicJSON, 0, len(ts))
		for i := range ts {
			out = append(out, s.topicJSON(&ts[i]))
		}
		nativeapi.WriteJSON(w, 0, map[string]any{"topics": out})
		return nil
	})
	handle("GET "+NativePrefix+"/{name}", func(w http.ResponseWriter, r *http.Request, acct string) error {
		t, err := s.GetTopic(r.Context(), acct, r.PathValue("name"))
		if err != nil {
			return err
		}
		nativeapi.WriteJSON(w, 0, s.topicJSON(t))
		return nil
	})
	handle("DELETE "+NativePrefix+"/{name}", func(w http.ResponseWriter, r *http.Request, acct string) error {
		if err := s.DeleteTopic(r.Context(), acct, r.PathValue("name")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	handle("POST "+NativePrefix+"/{name}/publish", func(w http.ResponseWriter, r *http.Request, acct string) error {
		name := r.PathValue("name")
		if err := ValidateTopicName(name); err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxMessageBytes+1))
		if err != nil {
			return fault.Invalidf("reading the message: %v", err)
		}
		ev, err := s.PublishEvent(r.Context(), PublishInput{AccountID: acct, Destination: name, Message: body,
			DedupKey: r.Header.Get("X-Tidings-Dedup-Key"), MustExist: true})
		if err != nil {
			return err
		}
		nativeapi.WriteJSON(w, http.StatusCreated, map[string]string{"event_id": ev.ID})
		return nil
	})
	handle("POST "+NativePrefix+"/{name}/subscriptions", func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in struct {
			URL    string          `json:"url"`
			Secret string          `json:"secret"`
			Filter json.RawMessage `json:"filter"`
		}
		if err := decodeBody(r, &in); err != nil {
			return err
		}
		filter := strings.TrimSpace(string(in.Filter))
		if filter == "null" {
			filter = ""
		}
		sub, err := s.Subscribe(r.Context(), acct, SubscribeInput{Topic: r.PathValue("name"), URL: in.URL, Secret: in.Secret, Filter: filter})
		if err != nil {
			return err
		}
		nativeapi.WriteJSON(w, http.StatusCreated, subscriptionJSON(sub))
		return nil
	})
	handle("GET "+NativePrefix+"/{name}/subscriptions", func(w http.ResponseWriter, r *http.Request, acct string) error {
		subs, err := s.Subscriptions(r.Context(), acct, r.PathValue("name"))
		if err != nil {
			return err
		}
		out := make([]SubscriptionJSON, 0, len(subs))
		for i := range subs {
			j := subscriptionJSON(&subs[i].Subscription)
			j.Deliveries = map[string]int64{}
			for k, v := range subs[i].Deliveries {
				j.Deliveries[strings.ToLower(string(k))] = v
			}
			j.LastAttemptAt = timePtr(subs[i].LastAttemptAt)
			out = append(out, j)
		}
		nativeapi.WriteJSON(w, 0, map[string]any{"subscriptions": out})
		return nil
	})
	handle("DELETE "+NativePrefix+"/{name}/subscriptions/{id}", func(w http.ResponseWriter, r *http.Request, acct string) error {
		if err := s.Unsubscribe(r.Context(), acct, r.PathValue("name"), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	handle("GET "+NativePrefix+"/{name}/events", func(w http.ResponseWriter, r *http.Request, acct string) error {
		limit, err := limitParam(r)
		if err != nil {
			return err
		}
		if limit == 0 {
			limit = 50
		}
		evs, err := s.Events(r.Context(), acct, r.PathValue("name"), r.URL.Query().Get("before"), limit)
		if err != nil {
			return err
		}
		out := map[string]any{}
		list := make([]EventJSON, 0, len(evs))
		for i := range evs {
			list = append(list, eventJSON(&evs[i]))
		}
		out["events"] = list
		if len(evs) == limit {
			out["next_before"] = evs[len(evs)-1].ID
		}
		nativeapi.WriteJSON(w, 0, out)
		return nil
	})
	handle("GET "+NativePrefix+"/{name}/events/{id}", func(w http.ResponseWriter, r *http.Request, acct string) error {
		d, err := s.GetEvent(r.Context(), acct, r.PathValue("name"), r.PathValue("id"))
		if err != nil {
			return err
		}
		out := eventJSON(&d.Event)
		out.Deliveries = make([]DeliveryJSON, 0, len(d.Deliveries))
		for i := range d.Deliveries {
			out.Deliveries = append(out.Deliveries, deliveryJSON(&d.Deliveries[i]))
		}
		nativeapi.WriteJSON(w, 0, out)
		return nil
	})
	handle("GET "+NativePrefix+"/{name}/dead-letters", func(w http.ResponseWriter, r *http.Request, acct string) error {
		limit, err := limitParam(r)
		if err != nil {
			return err
		}
		if limit == 0 {
			limit = 100
		}
		afterEv, afterSub, _ := strings.Cut(r.URL.Query().Get("after"), "/")
		ds, err := s.DeadLetters(r.Context(), acct, r.PathValue("name"), afterEv, afterSub, limit)
		if err != nil {
			return err
		}
		list := make([]DeliveryJSON, 0, len(ds))
		for i := range ds {
			list = append(list, deliveryJSON(&ds[i]))
		}
		out := map[string]any{"dead_letters": list}
		if len(ds) == limit {
			last := ds[len(ds)-1]
			out["next_after"] = last.EventID + "/" + last.SubscriptionID
		}
		nativeapi.WriteJSON(w, 0, out)
		return nil
	})
	handle("POST "+NativePrefix+"/{name}/dead-letters/redrive", func(w http.ResponseWriter, r *http.Request, acct string) error {
		var in struct {
			EventID        string `json:"event_id"`
			SubscriptionID string `json:"subscription_id"`
		}
		if err := decodeBody(r, &in); err != nil {
			return err
		}
		n, err := s.Redrive(r.Context(), acct, r.PathValue("name"), in.EventID, in.SubscriptionID)
		if err != nil {
			return err
		}
		nativeapi.WriteJSON(w, 0, map[string]int{"redriven": n})
		return nil
	})
	notFound := func(w http.ResponseWriter, r *http.Request) {
		nativeapi.WriteError(w, fault.NotFoundf("no such resource: %s %s", r.Method, r.URL.Path), 0)
	}
	mux.HandleFunc(NativePrefix, notFound)
	mux.HandleFunc(NativePrefix+"/", notFound)
	return mux
}

// decodeBody decodes a JSON request body into v, refusing unknown fields;
// an empty body is an empty object.
func decodeBody(r *http.Request, v any) error { return nativeapi.Decode(r, v, 1<<20, true) }

func limitParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, fault.Invalidf("limit must be an integer from 1 to 1000")
	}
	return n, nil
}
