package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/tidings/tidings/internal/durable"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/lease"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// ErrRejected marks a Submit error as final: the carrier refused the
// message and retrying cannot help.
var ErrRejected = errors.New("sms: rejected by the carrier")

// PricePerSegmentUSD is the nominal price Tidings reports per SMS segment
// (totalMessagePrice in events, checked against MaxPrice). It charges
// nothing; the figure only lets MaxPrice and spend limits behave.
const PricePerSegmentUSD = 0.00581

// Body limits, as AWS: 1,600 GSM-7 characters or 630 UCS-2 characters.
const (
	maxGSMUnits = 1600
	maxUCSUnits = 630
)

func sortStrings(s []string) { sort.Strings(s) }

// parseNumber checks that s is a valid E.164 number (per the country's
// numbering plan) and returns it normalized with its country.
func parseNumber(s string) (string, string, error) {
	if !strings.HasPrefix(s, "+") {
		return "", "", invalid(sv.ValidationExceptionReasonInvalidParameter, "%q is not an E.164 phone number (+ and country code)", s)
	}
	if o, ok := SimulatorDestinations[s]; ok {
		return s, o.Country, nil
	}
	pn, err := phonenumbers.Parse(s, "")
	if err != nil {
		return "", "", invalid(sv.ValidationExceptionReasonCannotParse, "Cannot parse phone number %q: %v", s, err)
	}
	// IsValidNumber would find the region as GetRegionCodeForNumber does
	// (matching the patterns of every region sharing the country code):
	// find it once.
	region := phonenumbers.GetRegionCodeForNumber(pn)
	if !phonenumbers.IsValidNumberForRegion(pn, region) {
		return "", "", invalid(sv.ValidationExceptionReasonInvalidParameter, "%q is not a valid phone number", s)
	}
	return phonenumbers.Format(pn, phonenumbers.E164), region, nil
}

// messageRec is a sent message (the Body of a MessageRecord).
type messageRec struct {
	// leaseUntil, when set, is the end of the lease the message was
	// committed under for the dispatcher (not stored in the body).
	leaseUntil time.Time

	ID               string            `json:"id"`
	AccountID        string            `json:"accountId"`
	Channel          Channel           `json:"channel"`
	Origination      string            `json:"origination"`
	OriginationARN   string            `json:"originationArn"`
	Simulator        bool              `json:"simulator,omitempty"`
	Destination      string            `json:"destination"`
	Country          string            `json:"country"`
	Body             string            `json:"body,omitempty"`
	Encoding         Encoding          `json:"encoding,omitempty"`
	Segments         int               `json:"segments"`
	MessageType      string            `json:"messageType"`
	ConfigurationSet string            `json:"configurationSet,omitempty"`
	Context          map[string]string `json:"context,omitempty"`
	PriceUSD         float64           `json:"priceUsd"`
	ExpiresAt        time.Time         `json:"expiresAt"`
	RequestedAt      time.Time         `json:"requestedAt"`
	VoiceID          string            `json:"voiceId,omitempty"`
	SSML             bool              `json:"ssml,omitempty"`
	MediaURLs        []string          `json:"mediaUrls,omitempty"`
	Status           Status            `json:"status,omitempty"`
	// FeedbackEnabled: the sender reports whether the message arrived
	// (PutMessageFeedback); Feedback is its last report, FeedbackAt when.
	FeedbackEnabled bool      `json:"feedbackEnabled,omitempty"`
	Feedback        string    `json:"feedback,omitempty"`
	FeedbackAt      time.Time `json:"feedbackAt,omitzero"`
	// Parts are the carrier's ids of the parts of a message it took in
	// several (a PartsProvider), first part first; PartStatus the final
	// status each has had.
	Parts      []string          `json:"parts,omitempty"`
	PartStatus map[string]Status `json:"partStatus,omitempty"`
	// Events are the event records made for the message, oldest first.
	Events []json.RawMessage `json:"events,omitempty"`
}

// origin is the resolved origination identity of a send.
type origin struct {
	address     string // E.164 or sender ID
	arn         string
	simulator   bool
	optOutList  string
	selfManaged bool
	messageType string
	number      *numberRec
}

// resolveOrigin picks the origination identity of a send to dest in
// country: the one named (a number, pool or sender ID), else the
// configuration set's default sender ID, else a number of the account in
// the destination's country, as AWS does.
func (s *Service) resolveOrigin(ctx context.Context, tx Tx, accountID, ref, dest, country string, cs *configSetRec, capability sv.NumberCapability) (*origin, error) {
	fromNumber := func(n *numberRec, optOut string, selfManaged bool) (*origin, error) {
		if n.Status != string(sv.NumberStatusActive) {
			return nil, conflict(sv.ConflictExceptionReasonResourceNotActive, sv.ResourceTypePhoneNumber, n.ID, "Phone number %s is %s", n.ID, n.Status)
		}
		if !n.hasCapability(capability) {
			return nil, conflict(sv.ConflictExceptionReasonNumberCapabilitiesMismatch, sv.ResourceTypePhoneNumber, n.ID, "Phone number %s does not have the %s capability", n.ID, capability)
		}
		sim := n.NumberType == string(sv.NumberTypeSimulator)
		if sim {
			// AWS: a simulator number sends only to the destination
			// simulator numbers of its own country.
			o, ok := SimulatorDestinations[dest]
			if !ok {
				return nil, invalid(sv.ValidationExceptionReasonInvalidParameter, "Simulator phone number %s can only send to destination simulator numbers", n.Number)
			}
			if o.Country != n.Country {
				return nil, invalid(sv.ValidationExceptionReasonInvalidIdentityForDestinationCountry, "Simulator phone number %s (%s) cannot send to %s (%s)", n.Number, n.Country, dest, o.Country)
			}
		} else if n.Country != country && !n.InternationalSending {
			return nil, invalid(sv.ValidationExceptionReasonInvalidIdentityForDestinationCountry, "Phone number %s (%s) cannot send to %s (%s)", n.Number, n.Country, dest, country)
		}
		return &origin{address: n.Number, arn: n.ARN, simulator: sim, optOutList: optOut, selfManaged: selfManaged, messageType: n.MessageType, number: n}, nil
	}
	fromSender := func(r *senderRec, optOut string, selfManaged bool) (*origin, error) {
		if r.Country != country {
			return nil, invalid(sv.ValidationExceptionReasonInvalidIdentityForDestinationCountry, "Sender ID %s (%s) cannot send to %s (%s)", r.SenderID, r.Country, dest, country)
		}
		if optOut == "" {
			optOut = DefaultOptOutList
		}
		return &origin{address: r.SenderID, arn: r.ARN, optOutList: optOut, selfManaged: selfManaged}, nil
	}
	// In a pool, the pool's opt-out settings apply.
	withPool := func(poolID string, number *numberRec, sender *senderRec) (*origin, error) {
		optOut, selfManaged := "", false
		if poolID != "" {
			if p, err := s.getPool(ctx, tx, accountID, poolID); err == nil {
				optOut, selfManaged = p.OptOutList, p.SelfManagedOptOuts
			}
		}
		if number != nil {
			if optOut == "" {
				optOut, selfManaged = number.OptOutList, number.SelfManagedOptOuts
			}
			return fromNumber(number, optOut, selfManaged)
		}
		return fromSender(sender, optOut, selfManaged)
	}

	if ref != "" {
		typ, _, isARN := s.parseARN(accountID, ref)
		if (isARN && typ == "pool") || strings.HasPrefix(ref, "pool-") {
			p, err := s.getPool(ctx, tx, accountID, ref)
			if err != nil {
				return nil, err
			}
			members, err := s.poolMembers(ctx, tx, accountID, p.ID)
			if err != nil {
				return nil, err
			}
			var firstErr error
			for _, m := range members {
				o, err := withPool(p.ID, m.number, m.sender)
				if err == nil {
					return o, nil
				}
				if firstErr == nil {
					firstErr = err
				}
			}
			if firstErr == nil {
				firstErr = conflict(sv.ConflictExceptionReasonNoOriginationIdentitiesFound, sv.ResourceTypePool, p.ID, "Pool %s has no origination identity", p.ID)
			}
			return nil, firstErr
		}
		o, err := s.getIdentity(ctx, tx, accountID, ref, country)
		if err != nil {
			return nil, err
		}
		return withPool(o.poolID(), o.number, o.sender)
	}
	if cs != nil && cs.DefaultSenderID != "" {
		if r, err := s.getSender(ctx, tx, accountID, cs.DefaultSenderID, country); err == nil {
			return withPool(r.PoolID, nil, r)
		}
	}
	// No identity named: a number of the account that can reach dest.
	var found *origin
	err := eachResource(ctx, tx, accountID, KindPhoneNumber, func(r *Resource) error {
		var n numberRec
		if err := decode(r, &n); err != nil {
			return err
		}
		if o, err := withPool(n.PoolID, &n, nil); err == nil {
			found = o
			return errStop
		}
		return nil
	})
	if err != nil || found != nil {
		return found, err
	}
	return nil, conflict(sv.ConflictExceptionReasonNoOriginationIdentitiesFound, sv.ResourceTypePhoneNumber, dest,
		"No origination identity of the account can send to %s", dest)
}

// sendRequest is what the three send operations share.
type sendRequest struct {
	channel          Channel
	dest             string
	ref              string
	configurationSet string
	messageType      *sv.MessageType
	context          map[string]string
	maxPrice         *string
	ttl              *int64
	dryRun           bool
	body             string
	voiceID          string
	ssml             bool
	mediaURLs        []string
	capability       sv.NumberCapability
	// feedback is the send's MessageFeedbackEnabled (nil: the
	// configuration set's default).
	feedback *bool
	// protectConfig is the send's ProtectConfigurationId ("": the
	// configuration set's, else the account's default).
	protectConfig string
	// verification marks a verification code: it goes to a number that
	// is not verified yet, sandbox or not.
	verification bool
	// before runs in the send's transaction once the send is valid, before
	// the message is committed (the verification code is stored with it).
	before func(tx Tx, m *messageRec) error
}

// send validates a send and, unless it is a dry run, commits the message
// and its send job; the MessageId is returned only after the commit.
func (s *Service) send(ctx context.Context, req sendRequest) (string, error) {
	accountID, err := account(ctx)
	if err != nil {
		return "", err
	}
	dest, country, err := parseNumber(req.dest)
	if err != nil {
		return "", err
	}
	m := &messageRec{ID: newID(""), AccountID: accountID, Channel: req.channel, Destination: dest, Country: country,
		Body: req.body, Context: req.context, RequestedAt: s.now(), VoiceID: req.voiceID, SSML: req.ssml, MediaURLs: req.mediaURLs}
	if req.channel == ChannelText {
		split := Segment(req.body)
		if (split.Encoding == GSM7 && split.Units > maxGSMUnits) || (split.Encoding == UCS2 && split.Units > maxUCSUnits) {
			return "", invalid(sv.ValidationExceptionReasonMaximumSizeExceeded,
				"MessageBody is %d characters in %s; the limit is %d GSM-7 or %d UCS-2 characters", split.Units, split.Encoding, maxGSMUnits, maxUCSUnits)
		}
		m.Encoding, m.Segments = split.Encoding, split.Segments
	} else {
		m.Segments = 1
	}
	m.PriceUSD = float64(m.Segments) * PricePerSegmentUSD
	if req.maxPrice != nil {
		max, err := strconv.ParseFloat(*req.maxPrice, 64)
		if err != nil || max < 0 {
			return "", invalid(sv.ValidationExceptionReasonInvalidParameter, "MaxPrice %q is not a price", *req.maxPrice)
		}
		if m.PriceUSD > max {
			return "", invalid(sv.ValidationExceptionReasonPriceOverThreshold, "The message costs %.5f USD, over MaxPrice %s", m.PriceUSD, *req.maxPrice)
		}
	}
	ttl := 72 * time.Hour
	if req.ttl != nil {
		ttl = time.Duration(*req.ttl) * time.Second
	}
	m.ExpiresAt = m.RequestedAt.Add(ttl)

	// The checks read a snapshot on the read pool, never holding the
	// writer; the writes (spend, the message, its job) go in a group
	// commit with the sends that reach that point meanwhile.
	err = s.store.Read(ctx, func(tx Tx) error {
		var cs *configSetRec
		if req.configurationSet != "" {
			c, err := s.getConfigSet(ctx, tx, accountID, req.configurationSet)
			if err != nil {
				return err
			}
			cs, m.ConfigurationSet = c, c.Name
		}
		o, err := s.resolveOrigin(ctx, tx, accountID, req.ref, dest, country, cs, req.capability)
		if err != nil {
			return err
		}
		m.Origination, m.OriginationARN, m.Simulator = o.address, o.arn, o.simulator
		if !req.verification {
			if err := s.checkSandbox(ctx, tx, accountID, dest); err != nil {
				return err
			}
		}
		if err := s.checkProtect(ctx, tx, accountID, req, cs, m); err != nil {
			return err
		}
		switch {
		case req.feedback != nil:
			m.FeedbackEnabled = *req.feedback
		case cs != nil:
			m.FeedbackEnabled = cs.DefaultFeedback
		}
		switch {
		case req.messageType != nil:
			m.MessageType = string(*req.messageType)
		case cs != nil && cs.DefaultMessageType != "":
			m.MessageType = cs.DefaultMessageType
		case o.messageType != "":
			m.MessageType = o.messageType
		default:
			m.MessageType = string(sv.MessageTypeTransactional)
		}
		if !o.selfManaged {
			if _, err := tx.GetOptedOut(ctx, accountID, o.optOutList, dest); err == nil {
				return conflict(sv.ConflictExceptionReasonDestinationPhoneNumberOptedOut, sv.ResourceTypeOptedOutNumber, dest,
					"%s is on opt-out list %s", dest, o.optOutList)
			} else if !fault.Is(err, fault.NotFound) {
				return err
			}
		}
		if req.dryRun {
			return s.spend(ctx, tx, []*messageRec{m}, true)
		}
		return nil
	})
	if err == nil && s.cfg.Registrations != nil && m.OriginationARN != "" {
		// After the snapshot, not inside it: the registrations are read
		// from the same pool, which transactions holding every connection
		// while they wait for one would deadlock.
		regID, status, found, rerr := s.cfg.Registrations.ResourceRegistration(ctx, accountID, m.OriginationARN)
		switch {
		case rerr != nil:
			err = rerr
		case found && status != "COMPLETE":
			err = conflict(sv.ConflictExceptionReasonRegistrationNotComplete, sv.ResourceTypeRegistration, regID,
				"%s is tied to registration %s, which is %s: it sends once the registration is COMPLETE", m.Origination, regID, status)
		}
	}
	if err == nil && !req.dryRun {
		err = s.commits.Do(pendingSend{m: m, before: req.before})
	}
	if err != nil {
		return "", err
	}
	switch {
	case req.dryRun:
	case !m.leaseUntil.IsZero():
		s.dispatch.Add(m)
	default:
		s.fresh.put(m)
	}
	if !req.dryRun {
		s.log.Debug("message accepted", "account", accountID, "id", m.ID, "channel", m.Channel, "segments", m.Segments)
	}
	return m.ID, nil
}

// pendingSend is a send waiting for its group commit.
type pendingSend struct {
	m      *messageRec
	before func(Tx, *messageRec) error
}

// commitSends is the transaction of s.commits: the sends' spend (checked
// against the limits and added, so the sends of one batch count each
// other's; one read and write of the month's total for all), then for
// each what it needs written first (before), and the message with its
// job, or under a lease for the dispatcher when it takes them. On SQLite
// one writer serializes every commit, and one per message would bound the
// rate of sends by the writer; a failing send fails only itself
// (groupcommit commits the others again without it).
func (s *Service) commitSends(batch []pendingSend) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var until time.Time // of the lease the batch is stored under
	if s.dispatching() {
		until = s.cfg.Now().Add(lease.Duration)
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		ms := make([]*messageRec, len(batch))
		for i, p := range batch {
			ms[i] = p.m
		}
		if err := s.spend(ctx, tx, ms, false); err != nil {
			return err
		}
		jobs := make([]Job, 0, len(batch))
		for _, p := range batch {
			if p.before != nil {
				if err := p.before(tx, p.m); err != nil {
					return err
				}
			}
			p.m.leaseUntil = until
			if err := s.storeMessage(ctx, tx, p.m); err != nil {
				return err
			}
			if until.IsZero() {
				jobs = append(jobs, SendArgs{MessageID: p.m.ID})
			}
		}
		if len(jobs) == 0 {
			return nil
		}
		return tx.Enqueue(ctx, jobs...)
	})
}

// commitMessage stores a new message with its send job, and remembers it
// as the last one from its origination to its destination (the
// previousPublishedMessageId of a reply).
func (s *Service) commitMessage(ctx context.Context, tx Tx, m *messageRec) error {
	if err := s.storeMessage(ctx, tx, m); err != nil {
		return err
	}
	return tx.Enqueue(ctx, SendArgs{MessageID: m.ID})
}

// storeMessage is commitMessage without the job; a message with a
// leaseUntil is stored under the dispatcher's lease.
func (s *Service) storeMessage(ctx context.Context, tx Tx, m *messageRec) error {
	rec := &MessageRecord{ID: m.ID, AccountID: m.AccountID, Body: encode(m), CreatedAt: m.RequestedAt}
	if !m.leaseUntil.IsZero() {
		rec.LeaseOwner, rec.LeaseUntil = s.leaseOwner, m.leaseUntil
	}
	if err := tx.InsertMessage(ctx, rec); err != nil {
		return err
	}
	conv := &Resource{AccountID: m.AccountID, Kind: kindConversation, ID: m.Origination + "|" + m.Destination,
		Body: encode(map[string]string{"messageId": m.ID}), CreatedAt: m.RequestedAt}
	if err := tx.Put(ctx, conv); err != nil {
		return err
	}
	return nil
}

// kindConversation keeps the last message sent from one origination to
// one destination.
const kindConversation Kind = "conversation"

// SendTextMessage sends an SMS.
func (s *Service) SendTextMessage(ctx context.Context, in *sv.SendTextMessageRequest) (*sv.SendTextMessageResult, error) {
	if str(in.MessageBody) == "" {
		return nil, invalid(sv.ValidationExceptionReasonMissingParameter, "MessageBody is required")
	}
	id, err := s.send(ctx, sendRequest{channel: ChannelText, dest: str(in.DestinationPhoneNumber), ref: str(in.OriginationIdentity),
		configurationSet: str(in.ConfigurationSetName), messageType: in.MessageType, context: in.Context, maxPrice: in.MaxPrice,
		ttl: in.TimeToLive, dryRun: boolv(in.DryRun), body: str(in.MessageBody), capability: sv.NumberCapabilitySms,
		feedback: in.MessageFeedbackEnabled, protectConfig: str(in.ProtectConfigurationId)})
	if err != nil {
		return nil, err
	}
	return &sv.SendTextMessageResult{MessageId: ptr(id)}, nil
}

// SendMediaMessage sends an MMS (the simulator keeps it).
func (s *Service) SendMediaMessage(ctx context.Context, in *sv.SendMediaMessageRequest) (*sv.SendMediaMessageResult, error) {
	if str(in.MessageBody) == "" && len(in.MediaUrls) == 0 {
		return nil, invalid(sv.ValidationExceptionReasonMissingParameter, "A media message needs a MessageBody or MediaUrls")
	}
	id, err := s.send(ctx, sendRequest{channel: ChannelMedia, dest: str(in.DestinationPhoneNumber), ref: str(in.OriginationIdentity),
		configurationSet: str(in.ConfigurationSetName), context: in.Context, maxPrice: in.MaxPrice, ttl: in.TimeToLive,
		dryRun: boolv(in.DryRun), body: str(in.MessageBody), mediaURLs: in.MediaUrls, capability: sv.NumberCapabilityMms,
		feedback: in.MessageFeedbackEnabled, protectConfig: str(in.ProtectConfigurationId)})
	if err != nil {
		return nil, err
	}
	return &sv.SendMediaMessageResult{MessageId: ptr(id)}, nil
}

// SendVoiceMessage calls a number and speaks a text or SSML message,
// rendered to audio by the Synthesizer when the job runs.
func (s *Service) SendVoiceMessage(ctx context.Context, in *sv.SendVoiceMessageRequest) (*sv.SendVoiceMessageResult, error) {
	if s.cfg.Synthesizer == nil {
		return nil, fault.Unavailablef("no text-to-speech engine is configured")
	}
	body, ssml := str(in.MessageBody), false
	if in.MessageBodyTextType != nil && *in.MessageBodyTextType == sv.VoiceMessageBodyTextTypeSsml {
		ssml = true
	}
	if body == "" {
		return nil, invalid(sv.ValidationExceptionReasonMissingParameter, "MessageBody is required")
	}
	voice := ""
	if in.VoiceId != nil {
		voice = string(*in.VoiceId)
	}
	id, err := s.send(ctx, sendRequest{channel: ChannelVoice, dest: str(in.DestinationPhoneNumber), ref: str(in.OriginationIdentity),
		configurationSet: str(in.ConfigurationSetName), context: in.Context, maxPrice: in.MaxPricePerMinute, ttl: in.TimeToLive,
		dryRun: boolv(in.DryRun), body: body, voiceID: voice, ssml: ssml, capability: sv.NumberCapabilityVoice,
		feedback: in.MessageFeedbackEnabled, protectConfig: str(in.ProtectConfigurationId)})
	if err != nil {
		return nil, err
	}
	return &sv.SendVoiceMessageResult{MessageId: ptr(id)}, nil
}

// provider picks the provider of a message.
func (s *Service) provider(m *messageRec) Provider {
	for _, d := range s.cfg.Dedicated {
		if d.Number == m.Origination {
			return d.Provider
		}
	}
	if _, sim := SimulatorDestinations[m.Destination]; sim || m.Simulator || s.cfg.Carrier == nil {
		return s.cfg.Simulator
	}
	return s.cfg.Carrier
}

// submit runs the send job of one message: hand it to its provider and
// record the provider's ID, or report the failure.
func (s *Service) submit(ctx context.Context, id string) error {
	var m messageRec
	if f, ok := s.fresh.take(id); ok {
		m = *f
		return s.submitMessage(ctx, &m)
	}
	err := s.store.Read(ctx, func(tx Tx) error {
		rec, err := tx.GetMessage(ctx, id)
		if err != nil {
			return err
		}
		if rec.ProviderID != "" || rec.Final {
			m.ID = "" // already submitted: a retried job after a crash
			return nil
		}
		return json.Unmarshal(rec.Body, &m)
	})
	if err != nil || m.ID == "" {
		if fault.Is(err, fault.NotFound) {
			return nil
		}
		return err
	}
	return s.submitMessage(ctx, &m)
}

// submitMessage is submit once the message is read.
func (s *Service) submitMessage(ctx context.Context, m *messageRec) error {
	if s.now().After(m.ExpiresAt) {
		return s.Receipt(ctx, Receipt{MessageID: m.ID, Status: StatusTTLExpired, Description: "The message expired before it could be sent"})
	}
	out := &Outbound{MessageID: m.ID, Channel: m.Channel, Origination: m.Origination, Destination: m.Destination, IsoCountryCode: m.Country,
		MessageType: m.MessageType, Body: m.Body, Encoding: m.Encoding, Segments: m.Segments, MediaURLs: m.MediaURLs,
		ExpiresAt: m.ExpiresAt, Simulator: m.Simulator, Context: m.Context}
	if m.Channel == ChannelVoice {
		wav, err := s.cfg.Synthesizer.Synthesize(ctx, m.Body, m.SSML, m.VoiceID)
		if err != nil {
			return fmt.Errorf("sms: text to speech of %s: %w", m.ID, err)
		}
		out.Audio = wav
	}
	var (
		pid   string
		parts []string
		err   error
	)
	if pp, ok := s.provider(m).(PartsProvider); ok {
		parts, err = pp.SubmitParts(ctx, out)
		if err == nil {
			pid = parts[0]
		}
	} else {
		pid, err = s.provider(m).Submit(ctx, out)
	}
	if errors.Is(err, ErrRejected) {
		return s.Receipt(ctx, Receipt{MessageID: m.ID, Status: StatusInvalid, Description: err.Error()})
	}
	if err != nil {
		return err
	}
	// Lazy: lost to a power cut, the provider's ID would have the job
	// submit the message again (a duplicate), never lose it; it survives
	// a crash of the process.
	return s.store.InTx(durable.Lazy(ctx), func(tx Tx) error {
		rec, err := tx.GetMessage(ctx, m.ID)
		if err != nil {
			return err
		}
		if rec.ProviderID != "" {
			return nil
		}
		rec.ProviderID = pid
		if len(parts) > 1 {
			var cur messageRec
			if err := json.Unmarshal(rec.Body, &cur); err != nil {
				return err
			}
			cur.Parts = parts
			rec.Body = encode(&cur)
			if err := tx.InsertMessageParts(ctx, m.ID, parts[1:]); err != nil {
				return err
			}
		}
		return tx.UpdateMessage(ctx, rec)
	})
}

// settleParts records a receipt naming one part of a message sent in
// several parts (m.Parts), and returns the receipt to report for the
// message: ok is false while the message's status does not change. A
// non-final receipt (SUCCESSFUL) is reported as it comes; a final one
// waits for every part's: DELIVERED when all are, else the first part's
// failure in part order.
func settleParts(m *messageRec, r Receipt) (Receipt, bool) {
	if len(m.Parts) < 2 || r.ProviderID == "" || !slices.Contains(m.Parts, r.ProviderID) || !r.Status.Final() {
		return r, true
	}
	if m.PartStatus == nil {
		m.PartStatus = map[string]Status{}
	}
	m.PartStatus[r.ProviderID] = r.Status
	for _, p := range m.Parts {
		if _, done := m.PartStatus[p]; !done {
			return r, false
		}
	}
	for i, p := range m.Parts {
		if st := m.PartStatus[p]; st != StatusDelivered {
			r.Status = st
			r.Description = fmt.Sprintf("Part %d of %d: %s", i+1, len(m.Parts), finalStatusText[st])
			return r, true
		}
	}
	r.Status, r.Description = StatusDelivered, fmt.Sprintf("All %d parts have been accepted by phone", len(m.Parts))
	return r, true
}

var finalStatusText = map[Status]string{
	StatusSuccessful:         "Message has been accepted by carrier",
	StatusDelivered:          "Message has been accepted by phone",
	StatusBlocked:            "The destination phone number has been blocked",
	StatusCarrierBlocked:     "The carrier blocked the message",
	StatusUnreachable:        "The destination phone number is not reachable",
	StatusCarrierUnreachable: "The carrier of the destination phone number is not reachable",
	StatusInvalid:            "The destination phone number is not valid",
	StatusInvalidMessage:     "The message body is not valid",
	StatusSpam:               "The carrier marked the message as spam",
	StatusTTLExpired:         "The message was not delivered within its time to live",
	StatusUnknown:            "No final delivery receipt was received",
	StatusInitiated:          "The call has been initiated",
	StatusCompleted:          "The call has been completed",
	StatusFailed:             "The call failed",
}

// eventRecord builds the End User Messaging event record of m at status.
func (s *Service) eventRecord(m *messageRec, st Status, desc string, at time.Time) map[string]any {
	if desc == "" {
		desc = finalStatusText[st]
	}
	ev := map[string]any{
		"eventType":                string(m.Channel) + "_" + string(st),
		"eventVersion":             "1.0",
		"eventTimestamp":           at.UnixMilli(),
		"isFinal":                  st.Final(),
		"originationPhoneNumber":   m.Origination,
		"destinationPhoneNumber":   m.Destination,
		"isoCountryCode":           m.Country,
		"messageId":                m.ID,
		"messageRequestTimestamp":  m.RequestedAt.UnixMilli(),
		"messageType":              m.MessageType,
		"messageStatus":            string(st),
		"messageStatusDescription": desc,
		"totalMessageParts":        m.Segments,
		"totalMessagePrice":        m.PriceUSD,
		"totalCarrierFee":          0.0,
	}
	if m.Encoding != "" {
		ev["messageEncoding"] = string(m.Encoding)
	}
	if len(m.Context) > 0 {
		ev["context"] = m.Context
	}
	if m.ConfigurationSet != "" {
		ev["configurationSetName"] = m.ConfigurationSet
	}
	if strings.HasPrefix(m.Origination, "+") {
		ev["originationPhoneNumber"] = m.Origination
	} else {
		delete(ev, "originationPhoneNumber")
		ev["senderId"] = m.Origination
	}
	return ev
}

// Receipt records a carrier's report on a message: the message's status
// and events, and the publication of the event record to the
// configuration set's destinations (a job, committed with it). A receipt
// after a final one, or repeating the last, changes nothing. It returns
// once that is committed, with the receipts that came meanwhile.
func (s *Service) Receipt(_ context.Context, r Receipt) error {
	p := &pendingReceipt{r: r}
	if err := s.receipts.Do(p); err != nil {
		return err
	}
	return p.err
}

// pendingReceipt is a receipt waiting for its group commit. err is its
// own outcome in a batch that committed: a receipt naming no message
// (fault.NotFound: not recorded yet, or not this database's) fails alone.
type pendingReceipt struct {
	r   Receipt
	err error
}

// commitReceipts is the transaction of s.receipts. Carriers' receipts
// come many at a time: one transaction (and on SQLite one turn of the
// writer, on PostgreSQL one commit) for all that wait, instead of one
// each. Receipts of one message in a batch apply in turn, each seeing the
// one before.
func (s *Service) commitReceipts(batch []*pendingReceipt) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.store.InTx(ctx, func(tx Tx) error {
		for _, p := range batch {
			p.err = s.applyReceipt(ctx, tx, p.r)
			if p.err != nil && !fault.Is(p.err, fault.NotFound) {
				return p.err
			}
		}
		return nil
	})
}

// applyReceipt is Receipt's work in tx. It reports a message it cannot
// find before writing anything.
func (s *Service) applyReceipt(ctx context.Context, tx Tx, r Receipt) error {
	at := r.At
	if at.IsZero() {
		at = s.now()
	}
	var (
		rec *MessageRecord
		err error
	)
	if r.MessageID != "" {
		rec, err = tx.GetMessage(ctx, r.MessageID)
	} else {
		rec, err = tx.GetMessageByProvider(ctx, r.ProviderID)
	}
	if err != nil {
		return err
	}
	var m messageRec
	if err := json.Unmarshal(rec.Body, &m); err != nil {
		return err
	}
	if rec.Final {
		return nil
	}
	r, report := settleParts(&m, r)
	if !report {
		// A part's final receipt before the others': kept on the
		// message, nothing to report yet.
		rec.Body = encode(&m)
		return tx.UpdateMessage(ctx, rec)
	}
	if m.Status == r.Status {
		return nil
	}
	if r.PriceUSD > 0 {
		m.PriceUSD = r.PriceUSD
	}
	ev, _ := json.Marshal(s.eventRecord(&m, r.Status, r.Description, at))
	m.Status = r.Status
	m.Events = append(m.Events, ev)
	rec.Body, rec.Final = encode(&m), r.Status.Final()
	if err := tx.UpdateMessage(ctx, rec); err != nil {
		return err
	}
	if m.ConfigurationSet == "" {
		// No destinations to publish to: the event is only logged
		// (and kept on the message).
		s.log.Info("sms event", "account", m.AccountID, "type", string(m.Channel)+"_"+string(r.Status), "event", string(ev), "targets", 0)
		return nil
	}
	return tx.Enqueue(ctx, PublishArgs{AccountID: m.AccountID, ConfigurationSet: m.ConfigurationSet,
		EventType: string(m.Channel) + "_" + string(r.Status), Message: string(ev)})
}

// matchesEvent reports whether a destination wants an event type.
func matchesEvent(d sv.EventDestination, eventType string) bool {
	for _, t := range d.MatchingEventTypes {
		switch {
		case string(t) == eventType, t == sv.EventTypeAll,
			strings.HasSuffix(string(t), "_ALL") && strings.HasPrefix(eventType, strings.TrimSuffix(string(t), "ALL")):
			return true
		}
	}
	return false
}

// publish delivers one event record or two-way message (the publish job).
func (s *Service) publish(ctx context.Context, a PublishArgs) error {
	var targets []string
	if a.TopicARN != "" {
		targets = []string{a.TopicARN}
	} else if a.ConfigurationSet != "" {
		var cs *configSetRec
		err := s.store.InTx(ctx, func(tx Tx) error {
			var err error
			cs, err = s.getConfigSet(ctx, tx, a.AccountID, a.ConfigurationSet)
			return err
		})
		if fault.Is(err, fault.NotFound) {
			s.log.Info("sms event", "account", a.AccountID, "type", a.EventType, "event", a.Message, "note", "configuration set deleted")
			return nil
		}
		if err != nil {
			return err
		}
		for _, d := range cs.Destinations {
			if d.Enabled != nil && !*d.Enabled || !matchesEvent(d, a.EventType) {
				continue
			}
			switch {
			case d.SnsDestination != nil:
				targets = append(targets, str(d.SnsDestination.TopicArn))
			default:
				// CloudWatch Logs and Firehose destinations are kept for
				// the API; Tidings delivers nothing to them.
				s.log.Debug("sms event for a destination Tidings does not deliver to", "destination", str(d.EventDestinationName))
			}
		}
	}
	s.log.Info("sms event", "account", a.AccountID, "type", a.EventType, "event", a.Message, "targets", len(targets))
	if s.cfg.Publisher == nil {
		return nil
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	for _, t := range targets {
		if err := s.cfg.Publisher.Publish(ctx, a.AccountID, t, []byte(a.Message)); err != nil {
			return fmt.Errorf("sms: publish %s to %s: %w", a.EventType, t, err)
		}
	}
	return nil
}

// SweepUnknown reports TEXT_UNKNOWN (VOICE_…, MEDIA_…) for messages that
// had no final receipt within UnknownAfter.
func (s *Service) SweepUnknown(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.cfg.UnknownAfter)
	n := 0
	for {
		var batch []*MessageRecord
		err := s.store.InTx(ctx, func(tx Tx) error {
			var err error
			batch, err = tx.PendingMessages(ctx, cutoff, 100)
			return err
		})
		if err != nil {
			return n, err
		}
		for _, m := range batch {
			if err := s.Receipt(ctx, Receipt{MessageID: m.ID, Status: StatusUnknown}); err != nil {
				return n, err
			}
			n++
		}
		if len(batch) < 100 {
			return n, nil
		}
	}
}

// MessageView is a message as the native API shows it: its status and
// event records.
type MessageView struct {
	MessageID   string            `json:"messageId"`
	Channel     Channel           `json:"channel"`
	Origination string            `json:"origination"`
	Destination string            `json:"destination"`
	Status      Status            `json:"status,omitempty"`
	Segments    int               `json:"segments"`
	Encoding    Encoding          `json:"encoding,omitempty"`
	Final       bool              `json:"final"`
	Events      []json.RawMessage `json:"events"`
}

// Message returns a message of the account.
func (s *Service) Message(ctx context.Context, accountID, id string) (*MessageView, error) {
	var rec *MessageRecord
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		rec, err = tx.GetMessage(ctx, id)
		return err
	})
	if err == nil && rec.AccountID != accountID {
		err = notFound(sv.ResourceTypeMessage, id, "Message %s does not exist", id)
	}
	if err != nil {
		return nil, restype(err, sv.ResourceTypeMessage, id)
	}
	var m messageRec
	if err := json.Unmarshal(rec.Body, &m); err != nil {
		return nil, err
	}
	v := &MessageView{MessageID: m.ID, Channel: m.Channel, Origination: m.Origination, Destination: m.Destination,
		Status: m.Status, Segments: m.Segments, Encoding: m.Encoding, Final: rec.Final, Events: m.Events}
	if v.Events == nil {
		v.Events = []json.RawMessage{}
	}
	return v, nil
}
