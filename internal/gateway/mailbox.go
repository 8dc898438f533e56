package gateway

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// deliverToMailbox delivers the message to the mailbox the action's
// MailboxArn names (a WorkMail organization or mailbox in AWS): the LMTP
// server or Maildir of a mailbox set up with `tidings mailboxes put`
// (internal/standins), else the Maildir <MailboxDir>/<account>/<name>,
// where <name> is the ARN's last segment. Any IMAP server that reads
// Maildir (Dovecot) can serve those.
func (g *Gateway) deliverToMailbox(ctx context.Context, q *queued, s *Step, a *mm.DeliverToMailboxAction, added [][2]string) (outcome, error) {
	arn := deref(a.MailboxArn)
	if g.cfg.StandIns != nil {
		mb, err := g.cfg.StandIns.Mailbox(ctx, q.AccountID, arn)
		switch {
		case err == nil && mb.LMTP != "":
			return g.deliverLMTP(ctx, q, s, mb, added)
		case err == nil:
			return g.deliverMaildir(ctx, q, s, mb.Maildir, added)
		case !fault.Is(err, fault.NotFound):
			if transient(err) {
				return outcome{}, err
			}
			return failed("DeliverToMailbox: %v", err), nil
		}
	}
	if g.cfg.MailboxDir == "" {
		return failed("DeliverToMailbox: mailbox %s is not set up (`tidings mailboxes put`) and no mailbox directory is configured", arn), nil
	}
	box := arn
	if i := strings.LastIndexAny(box, "/:"); i >= 0 {
		box = box[i+1:]
	}
	if !safeName(box) {
		return failed("DeliverToMailbox: MailboxArn %q does not end in a usable mailbox name", arn), nil
	}
	return g.deliverMaildir(ctx, q, s, filepath.Join(g.cfg.MailboxDir, q.AccountID, box), added)
}

// deliverMaildir writes the message into the Maildir dir
// (https://cr.yp.to/proto/maildir.html), creating it as needed. The file
// is written in tmp, fsynced, and renamed into new under a name made of
// the queue id and the step, so that a step repeated after a crash
// replaces its own file instead of delivering twice.
func (g *Gateway) deliverMaildir(ctx context.Context, q *queued, s *Step, dir string, added [][2]string) (outcome, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return outcome{}, fmt.Errorf("mailbox: %w", err)
		}
	}
	host := strings.NewReplacer("/", "\\057", ":", "\\072").Replace(g.cfg.Hostname)
	name := fmt.Sprintf("%d.%s_%d.%s", q.ReceivedAt.Unix(), q.QueueID, s.Index, host)
	tmp := filepath.Join(dir, "tmp", name)
	rc, _, err := g.openMessage(ctx, q, added, "")
	if err != nil {
		return outcome{}, err
	}
	defer rc.Close()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return outcome{}, fmt.Errorf("mailbox: %w", err)
	}
	_, err = io.Copy(f, rc)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, "new", name))
	}
	if err == nil {
		err = syncDir(filepath.Join(dir, "new"))
	}
	if err != nil {
		os.Remove(tmp)
		return outcome{}, fmt.Errorf("mailbox: %w", err)
	}
	return done("delivered to " + filepath.Join(dir, "new", name)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func safeName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
