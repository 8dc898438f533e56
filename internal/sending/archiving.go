package sending

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
)

// Archiver keeps sent mail in a Tidings archive (internal/archive): the
// ArchivingOptions of a configuration set.
type Archiver interface {
	// CheckArchive returns fault.NotFound when the account has no such
	// archive.
	CheckArchive(ctx context.Context, accountID, archiveID string) error
	// ArchiveSent stores the message as delivered (DKIM-signed) and
	// returns its id in the archive.
	ArchiveSent(ctx context.Context, accountID, archiveID, mailFrom string, recipients []string, sentAt time.Time, raw io.Reader) (string, error)
}

// archiveID reads the archive id of an ArchiveArn
// (arn:aws:ses:<region>:<account>:mailmanager-archive/<id>; the shape is
// checked by the wire layer), which must be of the caller's account.
func archiveID(arn, acct string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || !strings.HasPrefix(parts[5], "mailmanager-archive/") {
		return "", fault.Invalidf("ArchiveArn %q is not the ARN of a Mail Manager archive", arn)
	}
	if parts[4] != acct {
		return "", fault.Invalidf("ArchiveArn %q names an archive of another account (%s)", arn, parts[4])
	}
	return strings.TrimPrefix(parts[5], "mailmanager-archive/"), nil
}

// checkArchiving validates the ArchiveArn of a configuration set: an
// archive of the account that exists.
func (s *Service) checkArchiving(ctx context.Context, acct, arn string) error {
	if arn == "" {
		return nil
	}
	id, err := archiveID(arn, acct)
	if err != nil {
		return err
	}
	if s.cfg.Archiver == nil {
		return fault.Invalidf("archiving is not available on this server")
	}
	if err := s.cfg.Archiver.CheckArchive(ctx, acct, id); err != nil {
		if fault.Is(err, fault.NotFound) {
			return &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("Archive %s does not exist", arn), ResourceType: "archive", ResourceID: id}
		}
		return err
	}
	return nil
}

// archiveSent archives a message of a set with ArchivingOptions as it
// goes out, signed: the copy open opens (outgoing). A failure the archive
// can recover from is returned (the delivery job runs again); one it
// cannot (the archive deleted since) is logged and the message is
// delivered anyway.
func (s *Service) archiveSent(ctx context.Context, m *Message, meta *messageMeta, rcpts []Recipient, open func() (io.ReadCloser, error)) error {
	if meta.ArchiveID == "" || m.BlobKey == "" {
		return nil
	}
	log := s.log.With("message_id", m.MessageID, "archive", meta.ArchiveID)
	if s.cfg.Archiver == nil {
		log.Warn("not archived: this server has no archive service")
		return nil
	}
	rc, err := open()
	if err != nil {
		return fmt.Errorf("archiving %s: %w", m.MessageID, err)
	}
	defer rc.Close()
	to := make([]string, 0, len(rcpts))
	for _, r := range rcpts {
		to = append(to, r.Recipient)
	}
	id, err := s.cfg.Archiver.ArchiveSent(ctx, m.AccountID, meta.ArchiveID, meta.MailFrom, to, m.CreatedAt, rc)
	switch k := fault.KindOf(err); {
	case err == nil:
		log.Info("archived", "archived_id", id)
		return nil
	case k == fault.Unavailable || k == fault.Internal || k == fault.Throttled:
		return fmt.Errorf("archiving %s in %s: %w", m.MessageID, meta.ArchiveID, err)
	default:
		log.Warn("not archived", "err", err)
		return nil
	}
}
