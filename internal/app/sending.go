package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/tidings/tidings/internal/apiroutes"
	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store"
)

// newSending builds the outbound email service (the SES send APIs). The
// template renderer and the event publisher are set by the caller on the
// returned Config before New when those packages are wired (nil: off).
func newSending(cfg *config.Config, db *store.DB, blobs blob.Store, dl *delivery.Deliverer, resolver sending.TXTResolver,
	hostname, baseURL string, linkKey []byte, retry delivery.RetryPolicy, log *slog.Logger,
	renderer sending.TemplateRenderer, publisher sending.Publisher) (*sending.Service, error) {
	s, err := sending.New(sending.Config{
		Store:             db.Sending(),
		Blobs:             sendingBlobs{blobs},
		Deliverer:         dl,
		Resolver:          resolver,
		Region:            cfg.Region,
		Hostname:          hostname,
		BaseURL:           baseURL,
		LinkKey:           linkKey,
		Smarthost:         cfg.Smarthost,
		SmarthostUser:     cfg.SmarthostUser,
		SmarthostPassword: cfg.SmarthostPassword,
		Retry:             retry,
		Renderer:          renderer,
		Publisher:         publisher,
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
