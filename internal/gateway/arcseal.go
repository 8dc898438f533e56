package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"

	"github.com/tidings/tidings/internal/mailauth"
)

// ARC sealing (RFC 8617) of relayed mail. With Config.Sealer set, the
// message a Relay action delivers — as openMessage builds it: this
// gateway's Authentication-Results, the fields AddHeader steps added and
// X-Mail-Manager-Originator-Org on top of the message as received — gets
// an ARC Set on top of it:
//
//   - ARC-Authentication-Results carries the results of this gateway's
//     Authentication-Results (checked on receipt, stored in the message's
//     Auth);
//   - ARC-Message-Signature covers the body and the usual fields (From,
//     To, Subject, Date, Message-ID, DKIM-Signature...) with the fields
//     this gateway added (the originator field, AddHeader's), never
//     Authentication-Results or the ARC fields (RFC 8617 4.1.2);
//   - ARC-Seal says cv= what validating the chain gave on receipt (Auth.ARC):
//     none for a message without a chain, pass on top of a valid one, and
//     fail on top of a chain that failed (RFC 8617 5.1.2). A chain whose
//     last seal already says cv=fail, or that holds 50 sets, gets no set
//     (mailauth.ErrNotSealed): the message is relayed as it is, and that
//     is logged.
//
// The set is computed on a first read of the spooled copy (the body
// hashed as it is read: memory holds the header section, at most 1 MiB,
// and one line of the body, at most 1,000 octets on receipt), then the
// message is read again, behind the set, for the relay. Only relays are
// sealed: WriteToS3 and DeliverToMailbox hand the message to this
// organisation's own storage, where the chain ends (RFC 8617 sealing is
// for intermediaries passing mail on), and Send re-originates it through
// the sending pipeline, whose DKIM signature would have to come before a
// seal (RFC 8617 5.1).

// arcSetMax bounds the size of an ARC Set without its
// ARC-Authentication-Results payload, for the SIZE declared to relays:
// two signatures of an RSA key of up to 8192 bits in base64, folded, and
// the tags.
const arcSetMax = 4096

// relayOpener returns the function a relay delivery opens the message
// with: openMessage's, behind an ARC Set when this gateway seals. The set
// is computed on the first open and reused by the next ones of the same
// attempt.
func (g *Gateway) relayOpener(ctx context.Context, log *slog.Logger, q *queued, det relayDetail) func() (io.ReadCloser, error) {
	var set []byte
	sealed := false
	return func() (io.ReadCloser, error) {
		if g.cfg.Sealer != nil && !sealed {
			var err error
			if set, err = g.arcSet(ctx, log, q, det); err != nil {
				return nil, err
			}
			sealed = true
		}
		rc, _, err := g.openMessage(ctx, q, det.Headers, det.RelayID)
		if err != nil || len(set) == 0 {
			return rc, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(set), rc), rc}, nil
	}
}

// arcSet reads the message as it is relayed and returns the ARC Set to
// put on top of it, nil when none may be added (logged). An error is one
// reading the spooled copy: the delivery is deferred.
func (g *Gateway) arcSet(ctx context.Context, log *slog.Logger, q *queued, det relayDetail) ([]byte, error) {
	rc, _, err := g.openMessage(ctx, q, det.Headers, det.RelayID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	results, chain := "none", mailauth.ARCResult("")
	if q.auth != nil {
		// "<authserv-id>; <results>": the AAR has its own authserv-id.
		if _, r, ok := strings.Cut(q.auth.ResultsHeader, ";"); ok && strings.TrimSpace(r) != "" {
			results = strings.TrimSpace(r)
		}
		chain = mailauth.ARCResult(q.auth.ARC)
	}
	sign := []string{OriginatorHeader}
	for _, h := range det.Headers {
		sign = append(sign, h[0])
	}
	src := &readRecorder{r: rc}
	fields, err := g.cfg.Sealer.Seal(src, results, chain, sign...)
	switch {
	case src.err != nil:
		return nil, src.err
	case errors.Is(err, mailauth.ErrNotSealed):
		log.Info("relayed without an ARC Set", "reason", err)
		return nil, nil
	case err != nil:
		// Not the spool: the message itself (a header section over
		// 1 MiB) or the key. Relaying it unsealed beats not at all.
		log.Warn("relayed without an ARC Set: sealing failed", "err", err)
		return nil, nil
	}
	return []byte(strings.Join(fields, "")), nil
}

// readRecorder remembers the first error of the reader it wraps, so that
// a failure to read the spool is told apart from one of the sealer.
type readRecorder struct {
	r   io.Reader
	err error
}

func (r *readRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}
