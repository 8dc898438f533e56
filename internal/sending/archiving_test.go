package sending_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/sending"
)

type archived struct {
	account, archive, from string
	rcpts                  []string
	raw                    []byte
}

// fakeArchiver knows the archive "a-0123456789abcdefghijklmn" of acct.
type fakeArchiver struct {
	mu  sync.Mutex
	got []archived
}

const archiveIDOK = "a-0123456789abcdefghijklmn"

func (f *fakeArchiver) CheckArchive(_ context.Context, account, id string) error {
	if account != acct || id != archiveIDOK {
		return fault.NotFoundf("no archive %s", id)
	}
	return nil
}

func (f *fakeArchiver) ArchiveSent(_ context.Context, account, id, from string, rcpts []string, _ time.Time, raw io.Reader) (string, error) {
	b, err := io.ReadAll(raw)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, archived{account, id, from, rcpts, b})
	return "arch-1", nil
}

func (f *fakeArchiver) all() []archived {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]archived(nil), f.got...)
}

// TestArchivingOptions: a configuration set's ArchiveArn must name an
// archive of the account; the mail of the set is archived as delivered,
// DKIM signature included.
func TestArchivingOptions(t *testing.T) {
	t.Parallel()
	arch := &fakeArchiver{}
	b := setup(t, func(c *sending.Config) { c.Archiver = arch })
	b.verifiedDomain(t, "example.com")
	arn := func(account, id string) *string {
		return ptr("arn:aws:ses:us-east-1:" + account + ":mailmanager-archive/" + id)
	}
	_, err := b.svc.CreateConfigurationSet(b.ctx, &sesv2.CreateConfigurationSetRequest{ConfigurationSetName: ptr("x"),
		ArchivingOptions: &sesv2.ArchivingOptions{ArchiveArn: arn(acct, "a-nosucharchive0000000000000")}})
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	_, err = b.svc.CreateConfigurationSet(b.ctx, &sesv2.CreateConfigurationSetRequest{ConfigurationSetName: ptr("kept"),
		ArchivingOptions: &sesv2.ArchivingOptions{ArchiveArn: arn(acct, archiveIDOK)}})
	require.NoError(t, err)
	_, err = b.svc.PutConfigurationSetArchivingOptions(b.ctx, &sesv2.PutConfigurationSetArchivingOptionsRequest{
		ConfigurationSetName: ptr("kept"), ArchiveArn: arn("999988887777", archiveIDOK)})
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
	_, err = b.svc.PutConfigurationSetArchivingOptions(b.ctx, &sesv2.PutConfigurationSetArchivingOptionsRequest{
		ConfigurationSetName: ptr("kept"), ArchiveArn: arn(acct, archiveIDOK)})
	require.NoError(t, err)

	in := simple("app@example.com", "someone@dest.example")
	in.ConfigurationSetName = ptr("kept")
	_, err = b.svc.SendEmail(b.ctx, in)
	require.NoError(t, err)
	_, err = b.svc.SendEmail(b.ctx, simple("app@example.com", "other@dest.example")) // no set: not archived
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(b.dl.sent()) == 2 }, 10*time.Second, 20*time.Millisecond)
	got := arch.all()
	require.Len(t, got, 1)
	require.Equal(t, archiveIDOK, got[0].archive)
	require.Equal(t, acct, got[0].account)
	require.Equal(t, []string{"someone@dest.example"}, got[0].rcpts)
	require.Equal(t, "app@example.com", got[0].from)
	verifyDKIM(t, b, "example.com", got[0].raw)
	require.Contains(t, b.dl.sent(), got[0].raw, "archived as delivered")
}
