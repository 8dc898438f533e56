package gateway

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// deliverToMailbox writes the message into a Maildir
// (https://cr.yp.to/proto/maildir.html) under MailboxDir:
// <MailboxDir>/<account>/<mailbox>/{tmp,new,cur}, where <mailbox> is the
// last segment of the action's MailboxArn (a WorkMail organization or
// mailbox id in AWS). Any IMAP server that reads Maildir (Dovecot) can
// serve it.
//
// The file is written in tmp, fsynced, and renamed into new under a name
// made of the queue id and the step, so that a step repeated after a
// crash replaces its own file instead of delivering twice.
func (g *Gateway) deliverToMailbox(ctx context.Context, q *queued, s *Step, a *mm.DeliverToMailboxAction, added [][2]string) (outcome, error) {
	if g.cfg.MailboxDir == "" {
		return failed("DeliverToMailbox is not available: no mailbox directory is configured"), nil
	}
	arn := deref(a.MailboxArn)
	box := arn
	if i := strings.LastIndexAny(box, "/:"); i >= 0 {
		box = box[i+1:]
	}
	if !safeName(box) {
		return failed("DeliverToMailbox: MailboxArn %q does not end in a usable mailbox name", arn), nil
	}
	dir := filepath.Join(g.cfg.MailboxDir, q.AccountID, box)
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
