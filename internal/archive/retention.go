package archive

import (
	"context"
	"time"

	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// RunRetention deletes, archive by archive, the messages received before
// the archive's retention cutoff (RetentionCutoff with the retention in
// force now), Config.RetentionBatch at a time; PERMANENT archives and
// those PENDING_DELETION (the purge takes them) are left alone. It also
// forgets searches and exports older than Config.History. It returns how
// many messages it deleted.
func (s *Service) RunRetention(ctx context.Context) (deleted int, err error) {
	start := time.Now()
	var bytes int64
	defer func() { s.cfg.Observer.RetentionRun(deleted, bytes, time.Since(start), err) }()
	now := s.now()
	refs, err := s.store.Archives(ctx)
	if err != nil {
		return 0, err
	}
	for _, ref := range refs {
		a, err := s.archives.Archive(ctx, ref.AccountID, ref.ArchiveID)
		if isNotFound(err) {
			continue // purged, or never known: not ours to judge
		}
		if err != nil {
			return deleted, err
		}
		if a.State == mm.ArchiveStatePendingDeletion {
			continue
		}
		cutoff, ok := RetentionCutoff(now, a.Retention)
		if !ok {
			continue
		}
		n, b, err := s.deleteBefore(ctx, ref.AccountID, ref.ArchiveID, cutoff)
		deleted, bytes = deleted+n, bytes+b
		if err != nil {
			return deleted, err
		}
		if n > 0 {
			s.log.Info("retention deleted messages", "account", ref.AccountID, "archive", ref.ArchiveID,
				"retention", a.Retention, "before", cutoff, "deleted", n)
		}
	}
	if _, err := s.store.DeleteTasks(ctx, now.Add(-s.cfg.History)); err != nil {
		return deleted, err
	}
	if s.cfg.Packs != nil {
		// What was freed in segments still being written gets its space
		// back once they are sealed.
		if err := s.cfg.Packs.Sweep(); err != nil {
			s.log.Warn("sweeping the archive's pack segments", "err", err)
		}
	}
	return deleted, nil
}

// deleteBefore deletes the messages of an archive received before cutoff
// (all when cutoff is zero), in batches: the blobs first, then the rows, so
// that a crash between the two leaves rows that the next run deletes again,
// never a row whose content is gone for good without the row going too.
func (s *Service) deleteBefore(ctx context.Context, accountID, archiveID string, cutoff time.Time) (n int, bytes int64, err error) {
	for {
		msgs, err := s.store.ArchiveMessages(ctx, accountID, archiveID, cutoff, s.cfg.RetentionBatch)
		if err != nil || len(msgs) == 0 {
			return n, bytes, err
		}
		for _, m := range msgs {
			if err := s.deleteContent(ctx, m.BlobKey); err != nil {
				return n, bytes, err
			}
		}
		if err := s.store.DeleteMessages(ctx, msgs); err != nil {
			return n, bytes, err
		}
		n += len(msgs)
		for _, m := range msgs {
			bytes += m.Size
		}
		if len(msgs) < s.cfg.RetentionBatch {
			return n, bytes, nil
		}
	}
}

// PurgeArchive deletes every message of an archive and its searches and
// exports (the export files stay: they are the user's). It is
// mailmanager.Config.PurgeArchive, run when a deleted archive's grace
// period ends; it is idempotent.
func (s *Service) PurgeArchive(ctx context.Context, accountID, archiveID string) error {
	n, _, err := s.deleteBefore(ctx, accountID, archiveID, time.Time{})
	if err != nil {
		return err
	}
	if err := s.store.DeleteArchiveTasks(ctx, accountID, archiveID); err != nil {
		return err
	}
	s.log.Info("archive messages purged", "account", accountID, "archive", archiveID, "deleted", n)
	return nil
}
