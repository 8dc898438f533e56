package mailmanager

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
)

// InsertOpts schedules the purge for the end of the grace period: River
// reads it from the job args when the store enqueues them unchanged.
func (a ArchivePurgeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{ScheduledAt: a.NotBefore}
}

// ImportWorker runs address list import jobs under River:
//
//	jobs.Register(queue, &mailmanager.ImportWorker{Service: svc})
type ImportWorker struct {
	river.WorkerDefaults[ImportJobArgs]
	Service *Service
}

// Work runs one import job.
func (w *ImportWorker) Work(ctx context.Context, job *river.Job[ImportJobArgs]) error {
	return w.Service.RunImportJob(ctx, job.Args)
}

// Timeout: an import of a large file takes long; it commits as it goes.
func (w *ImportWorker) Timeout(*river.Job[ImportJobArgs]) time.Duration { return time.Hour }

// ArchivePurgeWorker runs archive purge jobs under River:
//
//	jobs.Register(queue, &mailmanager.ArchivePurgeWorker{Service: svc})
type ArchivePurgeWorker struct {
	river.WorkerDefaults[ArchivePurgeArgs]
	Service *Service
}

// Work purges one archive, or snoozes the job until its grace period ends.
func (w *ArchivePurgeWorker) Work(ctx context.Context, job *river.Job[ArchivePurgeArgs]) error {
	err := w.Service.PurgeArchive(ctx, job.Args)
	var later *RetryAt
	if errors.As(err, &later) {
		return river.JobSnooze(max(time.Until(later.At), time.Second))
	}
	return err
}
