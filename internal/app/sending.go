package app

import (
	"context"
	"errors"
	"fmt"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/model/sesv2"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/tidings/tidings/internal/apiroutes"
	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/message"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store"
)

// newSending builds the outbound email service (the SES send APIs). The
// template renderer and the event publisher are set by the caller on the
// returned Config before New when those packages are wired (nil: off).
func newSending(cfg *config.Config, db *store.DB, blobs blob.Store, dl *delivery.Deliverer, resolver sending.TXTResolver,
	hostname, baseURL string, linkKey, trackKey []byte, retry delivery.RetryPolicy, log *slog.Logger,
	renderer sending.TemplateRenderer, publisher sending.Publisher, archiver sending.Archiver) (*sending.Service, error) {
	trackURL, err := cfg.TrackingBase()
	if err != nil {
		return nil, err
	}
	limits, err := cfg.DestinationLimitsValue()
	if err != nil {
		return nil, err
	}
	s, err := sending.New(sending.Config{
		Store:             db.Sending(),
		Blobs:             sendingBlobs{blobs},
		Deliverer:         dl,
		Resolver:          resolver,
		Region:            cfg.Region,
		Hostname:          hostname,
		BaseURL:           baseURL,
		LinkKey:           linkKey,
		TrackingURL:       trackURL,
		TrackingKey:       trackKey,
		Smarthost:         cfg.Smarthost,
		SmarthostUser:     cfg.SmarthostUser,
		SmarthostPassword: cfg.SmarthostPassword,
		DestinationLimits: limits.For,
		Retry:             retry,
		Renderer:          renderer,
		Publisher:         publisher,
		Archiver:          archiver,
		NodeID:            cfg.Node(),
		Logger:            log.With("component", "sending"),
	})
	if err != nil {
		return nil, err
	}
	if err := s.Register(db.Jobs()); err != nil {
		return nil, fmt.Errorf("sending jobs: %w", err)
	}
	return s, nil
}

// mountSending registers the SES operations and the HTTP paths of
// outbound email: address confirmation links and DKIM records.
func mountSending(s *sending.Service, api *awsapi.Server, mux *http.ServeMux) {
	apiroutes.SESv2(api, s)
	apiroutes.SES(api, s)
	mux.Handle("GET "+sending.VerifyPrefix, s.VerifyHandler())
	mux.Handle("GET "+sending.DKIMPrefix, s.DKIMHandler())
	mux.Handle("GET "+sending.TrackPrefix, s.TrackingHandler())
}

// sendingBlobs adapts the blob store to what the sending spool uses.
type sendingBlobs struct{ s blob.Store }

func (b sendingBlobs) Put(ctx context.Context, key string, r io.Reader) error {
	_, err := b.s.Put(ctx, key, r)
	return err
}

func (b sendingBlobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, _, err := b.s.Get(ctx, key)
	return rc, err
}

func (b sendingBlobs) Delete(ctx context.Context, key string) error { return b.s.Delete(ctx, key) }

// gatewaySender is the gateway's Send action through the send pipeline,
// as a SendEmail with Raw content by the message's account; a refusal
// (unverified sender, paused account, …) becomes fault.Invalid, which
// fails the step with its reason instead of retrying it.
type gatewaySender struct{ s *sending.Service }

func (g *gatewaySender) SendRaw(ctx context.Context, accountID string, recipients []string, raw []byte) (string, error) {
	ctx = iam.WithPrincipal(ctx, iam.Principal{AccountID: accountID, ARN: "arn:aws:iam::" + accountID + ":root"})
	out, err := g.s.SendEmail(ctx, &sesv2.SendEmailRequest{
		Content:     &sesv2.EmailContent{Raw: &sesv2.RawMessage{Data: raw}},
		Destination: &sesv2.Destination{BccAddresses: recipients},
	})
	var rej *sending.Rejection
	switch {
	case errors.As(err, &rej):
		return "", fault.Invalidf("%s: %s", rej.Reason, rej.Message)
	case err != nil:
		return "", err
	case out.MessageId == nil:
		return "", errors.New("the send pipeline answered no MessageId")
	}
	return *out.MessageId, nil
}

// gatewayFeedback hands the mail that arrives at an ingress point for the
// VERP return path of a sent message (a bounce or a complaint) to the
// send pipeline, which records it as SES does.
type gatewayFeedback struct{ s *sending.Service }

func (g *gatewayFeedback) IsReturnPath(ctx context.Context, rcpt string) (bool, error) {
	if g.s == nil {
		return false, nil
	}
	return g.s.IsReturnPath(ctx, rcpt)
}

func (g *gatewayFeedback) HandleReport(ctx context.Context, rcpt string, raw io.Reader) (string, error) {
	if g.s == nil {
		return "", fault.Unavailablef("the send pipeline is not running")
	}
	return g.s.HandleReport(ctx, rcpt, raw)
}

func (g *gatewayFeedback) ComplaintAbout(ctx context.Context, accountID string, raw io.Reader) (string, error) {
	if g.s == nil {
		return "", nil
	}
	return g.s.ComplaintAbout(ctx, accountID, raw)
}

func (g *gatewayFeedback) HandleComplaint(ctx context.Context, accountID string, raw io.Reader) (string, error) {
	if g.s == nil {
		return "", fault.Unavailablef("the send pipeline is not running")
	}
	return g.s.HandleComplaint(ctx, accountID, raw)
}

// sendingArchiver archives sent mail (ArchivingOptions of configuration
// sets) into the Mail Manager archives, as the gateway's Archive action
// does for received mail.
type sendingArchiver struct {
	arch *archive.Service
	mail *mailmanager.Service
}

func (a sendingArchiver) CheckArchive(ctx context.Context, accountID, archiveID string) error {
	_, err := a.mail.Lookup(ctx, accountID, mailmanager.KindArchive, archiveID)
	return err
}

func (a sendingArchiver) ArchiveSent(ctx context.Context, accountID, archiveID, mailFrom string, recipients []string, sentAt time.Time, raw io.Reader) (string, error) {
	env := &message.Envelope{AccountID: accountID, MailFrom: mailFrom, Recipients: recipients, ReceivedAt: sentAt}
	return a.arch.Store(ctx, accountID, archiveID, env, message.Auth{}, raw)
}
