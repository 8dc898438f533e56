package mailmanager

import (
	"context"
	"time"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// DefaultRetention is the retention of an archive created without one:
// 180 days.
const DefaultRetention = mm.RetentionPeriodSixMonths

// CreateArchive creates an ACTIVE archive.
func (s *Service) CreateArchive(ctx context.Context, in *mm.CreateArchiveRequest) (*mm.CreateArchiveResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	id, name, now := newID(KindArchive), str(in.ArchiveName), s.now()
	rec := ArchiveRecord{State: mm.ArchiveStateActive, Retention: DefaultRetention, KmsKeyArn: str(in.KmsKeyArn)}
	if in.Retention != nil && in.Retention.RetentionPeriod != nil {
		rec.Retention = *in.Retention.RetentionPeriod
	}
	if rec.KmsKeyArn != "" && s.cfg.CheckKmsKey != nil {
		// As AWS, before anything is created: the key must exist.
		if err := s.cfg.CheckKmsKey(ctx, acct, rec.KmsKeyArn); err != nil {
			return nil, err
		}
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		// A name stays taken while its archive is PENDING_DELETION, as in AWS.
		if err := checkName(ctx, tx, acct, KindArchive, name, ""); err != nil {
			return err
		}
		r := &Resource{
			AccountID: acct, Kind: KindArchive, ID: id, Name: name,
			ARN: s.arn(acct, KindArchive, id), Body: encodeBody(rec),
			CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		return setTags(ctx, tx, acct, r.ARN, tags)
	})
	if err != nil {
		return nil, err
	}
	return &mm.CreateArchiveResponse{ArchiveId: ptr(id)}, nil
}

// GetArchive returns an archive, also while it is PENDING_DELETION.
func (s *Service) GetArchive(ctx context.Context, in *mm.GetArchiveRequest) (*mm.GetArchiveResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var out *mm.GetArchiveResponse
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindArchive, str(in.ArchiveId))
		if err != nil {
			return err
		}
		rec, err := DecodeArchive(r)
		if err != nil {
			return err
		}
		out = &mm.GetArchiveResponse{
			ArchiveId:            ptr(r.ID),
			ArchiveName:          ptr(r.Name),
			ArchiveArn:           ptr(r.ARN),
			ArchiveState:         ptr(rec.State),
			Retention:            &mm.ArchiveRetention{RetentionPeriod: ptr(rec.Retention)},
			CreatedTimestamp:     ts(r.CreatedAt),
			LastUpdatedTimestamp: ts(r.UpdatedAt),
		}
		if rec.KmsKeyArn != "" {
			out.KmsKeyArn = ptr(rec.KmsKeyArn)
		}
		return nil
	})
	return out, err
}

// UpdateArchive renames an ACTIVE archive or changes its retention.
func (s *Service) UpdateArchive(ctx context.Context, in *mm.UpdateArchiveRequest) (*mm.UpdateArchiveResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindArchive, str(in.ArchiveId))
		if err != nil {
			return err
		}
		rec, err := DecodeArchive(r)
		if err != nil {
			return err
		}
		if rec.State != mm.ArchiveStateActive {
			return fault.Conflictf("Archive %s is %s", r.ID, rec.State)
		}
		if in.ArchiveName != nil {
			if err := checkName(ctx, tx, acct, KindArchive, *in.ArchiveName, r.ID); err != nil {
				return err
			}
			r.Name = *in.ArchiveName
		}
		if in.Retention != nil && in.Retention.RetentionPeriod != nil {
			rec.Retention = *in.Retention.RetentionPeriod
		}
		r.Body, r.UpdatedAt = encodeBody(rec), s.now()
		return tx.Update(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &mm.UpdateArchiveResponse{}, nil
}

// DeleteArchive marks an archive no rule set uses PENDING_DELETION and
// enqueues its purge, which runs when ArchiveDeletionGrace has passed.
// Deleting an archive already PENDING_DELETION succeeds and changes nothing.
func (s *Service) DeleteArchive(ctx context.Context, in *mm.DeleteArchiveRequest) (*mm.DeleteArchiveResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindArchive, str(in.ArchiveId))
		if err != nil {
			return err
		}
		rec, err := DecodeArchive(r)
		if err != nil {
			return err
		}
		if rec.State == mm.ArchiveStatePendingDeletion {
			return nil
		}
		if err := checkNotInUse(ctx, tx, acct, KindArchive, r.ID); err != nil {
			return err
		}
		now := s.now()
		rec.State, rec.PurgeAfter = mm.ArchiveStatePendingDeletion, now.Add(s.cfg.ArchiveDeletionGrace)
		r.Body, r.UpdatedAt = encodeBody(rec), now
		if err := tx.Update(ctx, r); err != nil {
			return err
		}
		return tx.Enqueue(ctx, ArchivePurgeArgs{AccountID: acct, ArchiveID: r.ID, NotBefore: rec.PurgeAfter})
	})
	if err != nil {
		return nil, err
	}
	return &mm.DeleteArchiveResponse{}, nil
}

// ListArchives lists archives by ID, those PENDING_DELETION included.
func (s *Service) ListArchives(ctx context.Context, in *mm.ListArchivesRequest) (*mm.ListArchivesResponse, error) {
	out := &mm.ListArchivesResponse{Archives: []mm.Archive{}}
	next, err := s.list(ctx, KindArchive, in.NextToken, in.PageSize, func(r *Resource) error {
		rec, err := DecodeArchive(r)
		if err != nil {
			return err
		}
		out.Archives = append(out.Archives, mm.Archive{
			ArchiveId:            ptr(r.ID),
			ArchiveName:          ptr(r.Name),
			ArchiveState:         ptr(rec.State),
			LastUpdatedTimestamp: ts(r.UpdatedAt),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	return out, nil
}

// ArchivePurgeArgs is the job that removes an archive at the end of its
// PENDING_DELETION grace period.
type ArchivePurgeArgs struct {
	AccountID string    `json:"account_id"`
	ArchiveID string    `json:"archive_id"`
	NotBefore time.Time `json:"not_before"`
}

// Kind names the job for the queue.
func (ArchivePurgeArgs) Kind() string { return "mailmanager.archive_purge" }

// RetryAt is returned by a worker asked to run a job too early: the queue
// should run it again at At (River: JobSnooze).
type RetryAt struct{ At time.Time }

func (e *RetryAt) Error() string { return "not before " + e.At.Format(time.RFC3339) }

// PurgeArchive is the worker of ArchivePurgeArgs. Before NotBefore it
// returns *RetryAt. Then it deletes the archive's messages (Config.
// PurgeArchive; nothing yet when that is unset) and the archive itself,
// which frees its name. It is idempotent: a purged archive is a no-op.
func (s *Service) PurgeArchive(ctx context.Context, args ArchivePurgeArgs) error {
	var due bool
	err := s.store.InTx(ctx, func(tx Tx) error {
		r, err := tx.Get(ctx, args.AccountID, KindArchive, args.ArchiveID)
		if fault.Is(err, fault.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		rec, err := DecodeArchive(r)
		if err != nil {
			return err
		}
		if rec.State != mm.ArchiveStatePendingDeletion {
			return nil
		}
		if now := s.cfg.Now(); now.Before(rec.PurgeAfter) {
			return &RetryAt{At: rec.PurgeAfter}
		}
		due = true
		return nil
	})
	if err != nil || !due {
		return err
	}
	if s.cfg.PurgeArchive != nil {
		if err := s.cfg.PurgeArchive(ctx, args.AccountID, args.ArchiveID); err != nil {
			return err
		}
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		err := tx.Delete(ctx, args.AccountID, KindArchive, args.ArchiveID)
		if fault.Is(err, fault.NotFound) {
			return nil
		}
		return err
	})
	if err == nil {
		s.log.Info("archive purged", "account", args.AccountID, "archive", args.ArchiveID)
	}
	return err
}
