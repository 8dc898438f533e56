// Package storetest is the conformance suite of internal/store: every
// database the store supports must pass Run. The sqlite and postgres
// packages run it from their tests.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/store"
)

// Run runs the suite; open returns a fresh, empty database for each test.
func Run(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *bundle)
	}{
		{"InsertGet", testInsertGet},
		{"InsertConflict", testInsertConflict},
		{"NameUniqueness", testNameUniqueness},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"Rollback", testRollback},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ListPagination", testListPagination},
		{"ListAll", testListAll},
		{"ReferencedBy", testReferencedBy},
		{"Claims", testClaims},
		{"Tags", testTags},
		{"Members", testMembers},
		{"MembersPagination", testMembersPagination},
		{"AddMembers", testAddMembers},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ConcurrentSameName", testConcurrentSameName},
		{"Accounts", testAccounts},
		{"AccessKeys", testAccessKeys},
		{"LookupAccessKey", testLookupAccessKey},
		{"Settings", testSettings},
		{"Idempotency", testIdempotency},
		{"Enqueue", testEnqueue},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			t.Cleanup(cancel)
			db := open(t)
			tt.fn(t, &bundle{ctx: ctx, db: db, mm: db.MailManager()})
		})
	}
}

type bundle struct {
	ctx context.Context
	db  *store.DB
	mm  mailmanager.Store
}

// tx runs fn in a transaction that must commit.
func (b *bundle) tx(t *testing.T, fn func(tx mailmanager.Tx)) {
	t.Helper()
	require.NoError(t, b.mm.InTx(b.ctx, func(tx mailmanager.Tx) error {
		fn(tx)
		return nil
	}))
}

func requireKind(t *testing.T, err error, k fault.Kind) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, k, fault.KindOf(err), "error %q has kind %v, want %v", err, fault.KindOf(err), k)
	require.NotEmpty(t, err.Error())
}

func res(acct string, kind mailmanager.Kind, id, name string, refs ...string) *mailmanager.Resource {
	return &mailmanager.Resource{
		AccountID: acct, Kind: kind, ID: id, Name: name,
		ARN:  fmt.Sprintf("arn:aws:ses:us-east-1:%s:mailmanager-%s/%s", acct, kind, id),
		Body: []byte(`{"id":"` + id + `"}`),
		Refs: refs,
	}
}

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

func testInsertGet(t *testing.T, b *bundle) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	r := res(acctA, mailmanager.KindIngressPoint, "inp-1", "front", "rs-2", "tp-1", "rs-2")
	r.CreatedAt, r.UpdatedAt = at, at.Add(time.Second)
	b.tx(t, func(tx mailmanager.Tx) { require.NoError(t, tx.Insert(b.ctx, r)) })
	// Insert reports the times as stored: UTC, to the millisecond.
	require.Equal(t, at.Truncate(time.Millisecond).UTC(), r.CreatedAt)
	require.Equal(t, time.UTC, r.CreatedAt.Location())

	b.tx(t, func(tx mailmanager.Tx) {
		got, err := tx.Get(b.ctx, acctA, mailmanager.KindIngressPoint, "inp-1")
		require.NoError(t, err)
		require.Equal(t, acctA, got.AccountID)
		require.Equal(t, mailmanager.KindIngressPoint, got.Kind)
		require.Equal(t, "front", got.Name)
		require.Equal(t, r.ARN, got.ARN)
		require.Equal(t, r.Body, got.Body)
		require.Equal(t, []string{"rs-2", "tp-1"}, got.Refs, "refs come back sorted, without duplicates")
		require.Equal(t, r.CreatedAt, got.CreatedAt)
		require.Equal(t, at.Add(time.Second).Truncate(time.Millisecond).UTC(), got.UpdatedAt)

		byName, err := tx.GetByName(b.ctx, acctA, mailmanager.KindIngressPoint, "front")
		require.NoError(t, err)
		require.Equal(t, got, byName)

		_, err = tx.Get(b.ctx, acctA, mailmanager.KindIngressPoint, "inp-nope")
		requireKind(t, err, fault.NotFound)
		_, err = tx.Get(b.ctx, acctB, mailmanager.KindIngressPoint, "inp-1")
		requireKind(t, err, fault.NotFound)
		_, err = tx.Get(b.ctx, acctA, mailmanager.KindRuleSet, "inp-1")
		requireKind(t, err, fault.NotFound)
		_, err = tx.GetByName(b.ctx, acctA, mailmanager.KindIngressPoint, "back")
		requireKind(t, err, fault.NotFound)
		_, err = tx.GetByName(b.ctx, acctA, mailmanager.KindIngressPoint, "")
		requireKind(t, err, fault.NotFound)
	})

	// Zero times are set to now; empty bodies and names are fine.
	before := time.Now().Add(-time.Second)
	r2 := &mailmanager.Resource{AccountID: acctA, Kind: mailmanager.KindRelay, ID: "rl-1"}
	b.tx(t, func(tx mailmanager.Tx) { require.NoError(t, tx.Insert(b.ctx, r2)) })
	require.True(t, r2.CreatedAt.After(before))
	require.Equal(t, r2.CreatedAt, r2.UpdatedAt)
	b.tx(t, func(tx mailmanager.Tx) {
		got, err := tx.Get(b.ctx, acctA, mailmanager.KindRelay, "rl-1")
		require.NoError(t, err)
		require.Empty(t, got.Body)
		require.Empty(t, got.Refs)
		require.Equal(t, r2.CreatedAt, got.CreatedAt)
	})

	b.tx(t, func(tx mailmanager.Tx) {
		requireKind(t, tx.Insert(b.ctx, &mailmanager.Resource{AccountID: acctA, Kind: mailmanager.KindRelay}), fault.Invalid)
	})
}

func testInsertConflict(t *testing.T, b *bundle) {
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-1", "one")))
	})
	require.NoError(t, b.mm.InTx(b.ctx, func(tx mailmanager.Tx) error {
		err := tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-1", "other"))
		requireKind(t, err, fault.Conflict)
		require.Contains(t, err.Error(), "rs-1")
		// The transaction goes on after a conflict (on PostgreSQL too,
		// where a failed statement would abort it).
		return tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-2", "two"))
	}))
	b.tx(t, func(tx mailmanager.Tx) {
		got, err := tx.Get(b.ctx, acctA, mailmanager.KindRuleSet, "rs-1")
		require.NoError(t, err)
		require.Equal(t, "one", got.Name, "the conflicting insert changed nothing")
		_, err = tx.Get(b.ctx, acctA, mailmanager.KindRuleSet, "rs-2")
		require.NoError(t, err)
	})
}

func testNameUniqueness(t *testing.T, b *bundle) {
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-1", "main")))
		// Same name: other kind, other account: fine.
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindTrafficPolicy, "tp-1", "main")))
		require.NoError(t, tx.Insert(b.ctx, res(acctB, mailmanager.KindRuleSet, "rs-1", "main")))
		// Empty names never collide.
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-2", "")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-3", "")))
		// Names compare exactly.
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-4", "Main")))

		err := tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-5", "main"))
		requireKind(t, err, fault.Conflict)
		require.Contains(t, err.Error(), `"main"`)

		// Update into a taken name conflicts; keeping one's own does not.
		r := res(acctA, mailmanager.KindRuleSet, "rs-2", "main")
		requireKind(t, tx.Update(b.ctx, r), fault.Conflict)
		r = res(acctA, mailmanager.KindRuleSet, "rs-1", "main")
		r.Body = []byte(`{"v":2}`)
		require.NoError(t, tx.Update(b.ctx, r))
		// A freed name can be taken.
		require.NoError(t, tx.Update(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-1", "renamed")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-5", "main")))
	})
	b.tx(t, func(tx mailmanager.Tx) {
		got, err := tx.GetByName(b.ctx, acctA, mailmanager.KindRuleSet, "main")
		require.NoError(t, err)
		require.Equal(t, "rs-5", got.ID)
		got, err = tx.GetByName(b.ctx, acctB, mailmanager.KindRuleSet, "main")
		require.NoError(t, err)
		require.Equal(t, acctB, got.AccountID)
	})
}

func testUpdate(t *testing.T, b *bundle) {
	r := res(acctA, mailmanager.KindIngressPoint, "inp-1", "a", "rs-1", "tp-1")
	r.CreatedAt = time.Now().Add(-time.Hour)
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.Insert(b.ctx, r))
		require.NoError(t, tx.SetTags(b.ctx, acctA, r.ARN, map[string]string{"env": "prod"}))
	})
	created := r.CreatedAt

	u := *r
	u.Name, u.Body, u.Refs = "b", []byte(`{"v":2}`), []string{"tp-2"}
	u.ARN = r.ARN + "-moved"
	u.CreatedAt = time.Time{} // Update leaves CreatedAt alone
	u.UpdatedAt = time.Time{} // zero means now
	before := time.Now().Add(-time.Second)
	b.tx(t, func(tx mailmanager.Tx) { require.NoError(t, tx.Update(b.ctx, &u)) })
	require.True(t, u.UpdatedAt.After(before))

	b.tx(t, func(tx mailmanager.Tx) {
		got, err := tx.Get(b.ctx, acctA, mailmanager.KindIngressPoint, "inp-1")
		require.NoError(t, err)
		require.Equal(t, "b", got.Name)
		require.Equal(t, u.ARN, got.ARN)
		require.Equal(t, []byte(`{"v":2}`), got.Body)
		require.Equal(t, []string{"tp-2"}, got.Refs)
		require.Equal(t, created, got.CreatedAt)
		require.Equal(t, u.UpdatedAt, got.UpdatedAt)
		_, err = tx.GetByName(b.ctx, acctA, mailmanager.KindIngressPoint, "a")
		requireKind(t, err, fault.NotFound)

		refs, err := tx.ReferencedBy(b.ctx, acctA, "rs-1")
		require.NoError(t, err)
		require.Empty(t, refs)
		refs, err = tx.ReferencedBy(b.ctx, acctA, "tp-2")
		require.NoError(t, err)
		require.Len(t, refs, 1)

		// Tags follow the ARN.
		tags, err := tx.Tags(b.ctx, acctA, u.ARN)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"env": "prod"}, tags)

		requireKind(t, tx.Update(b.ctx, res(acctA, mailmanager.KindIngressPoint, "inp-nope", "")), fault.NotFound)
		requireKind(t, tx.Update(b.ctx, res(acctB, mailmanager.KindIngressPoint, "inp-1", "")), fault.NotFound)
	})
}

func testDelete(t *testing.T, b *bundle) {
	list := res(acctA, mailmanager.KindAddressList, "al-1", "vips")
	inp := res(acctA, mailmanager.KindIngressPoint, "inp-1", "front", "rs-1")
	keep := res(acctA, mailmanager.KindIngressPoint, "inp-2", "back", "rs-1")
	b.tx(t, func(tx mailmanager.Tx) {
		for _, r := range []*mailmanager.Resource{list, inp, keep} {
			require.NoError(t, tx.Insert(b.ctx, r))
			require.NoError(t, tx.SetTags(b.ctx, acctA, r.ARN, map[string]string{"k": r.ID}))
		}
		require.NoError(t, tx.Claim(b.ctx, "smtp-port", "2525", "inp-1"))
		require.NoError(t, tx.Claim(b.ctx, "hostname", "mx.example", "inp-1"))
		require.NoError(t, tx.Claim(b.ctx, "smtp-port", "2526", "inp-2"))
		require.NoError(t, tx.AddMember(b.ctx, "al-1", "a@example.com", time.Time{}))
	})
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.Delete(b.ctx, acctA, mailmanager.KindIngressPoint, "inp-1"))
		require.NoError(t, tx.Delete(b.ctx, acctA, mailmanager.KindAddressList, "al-1"))
	})
	b.tx(t, func(tx mailmanager.Tx) {
		_, err := tx.Get(b.ctx, acctA, mailmanager.KindIngressPoint, "inp-1")
		requireKind(t, err, fault.NotFound)
		_, err = tx.GetByName(b.ctx, acctA, mailmanager.KindIngressPoint, "front")
		requireKind(t, err, fault.NotFound)

		refs, err := tx.ReferencedBy(b.ctx, acctA, "rs-1")
		require.NoError(t, err)
		require.Equal(t, []mailmanager.Ref{{Kind: mailmanager.KindIngressPoint, ID: "inp-2", Name: "back"}}, refs)

		tags, err := tx.Tags(b.ctx, acctA, inp.ARN)
		require.NoError(t, err)
		require.Empty(t, tags)
		tags, err = tx.Tags(b.ctx, acctA, keep.ARN)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"k": "inp-2"}, tags)

		for _, k := range [][2]string{{"smtp-port", "2525"}, {"hostname", "mx.example"}} {
			owner, err := tx.Claimed(b.ctx, k[0], k[1])
			require.NoError(t, err)
			require.Empty(t, owner, "claim %v released", k)
		}
		owner, err := tx.Claimed(b.ctx, "smtp-port", "2526")
		require.NoError(t, err)
		require.Equal(t, "inp-2", owner)

		n, err := tx.CountMembers(b.ctx, "al-1")
		require.NoError(t, err)
		require.Zero(t, n, "the members of a deleted list go with it")

		requireKind(t, tx.Delete(b.ctx, acctA, mailmanager.KindIngressPoint, "inp-1"), fault.NotFound)
		requireKind(t, tx.Delete(b.ctx, acctB, mailmanager.KindIngressPoint, "inp-2"), fault.NotFound)
	})
	// The name is free again.
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindIngressPoint, "inp-3", "front")))
	})
}

type testJob struct {
	N int `json:"n"`
}

func (testJob) Kind() string { return "storetest.job" }

func testRollback(t *testing.T, b *bundle) {
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-0", "kept")))
	})
	boom := errors.New("boom")
	err := b.mm.InTx(b.ctx, func(tx mailmanager.Tx) error {
		r := res(acctA, mailmanager.KindRuleSet, "rs-1", "gone", "tp-1")
		require.NoError(t, tx.Insert(b.ctx, r))
		require.NoError(t, tx.Update(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-0", "changed")))
		require.NoError(t, tx.SetTags(b.ctx, acctA, r.ARN, map[string]string{"a": "b"}))
		require.NoError(t, tx.Claim(b.ctx, "smtp-port", "25", "rs-1"))
		require.NoError(t, tx.AddMember(b.ctx, "al-1", "x@example.com", time.Time{}))
		n, err := tx.AddMembers(b.ctx, "al-1", []string{"y@example.com", "z@example.com"}, time.Time{})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.NoError(t, tx.Enqueue(b.ctx, testJob{N: 1}))
		// Visible inside the transaction.
		_, err = tx.Get(b.ctx, acctA, mailmanager.KindRuleSet, "rs-1")
		require.NoError(t, err)
		return fmt.Errorf("wrapped: %w", boom)
	})
	require.ErrorIs(t, err, boom, "InTx returns fn's error")

	b.tx(t, func(tx mailmanager.Tx) {
		_, err := tx.Get(b.ctx, acctA, mailmanager.KindRuleSet, "rs-1")
		requireKind(t, err, fault.NotFound)
		got, err := tx.Get(b.ctx, acctA, mailmanager.KindRuleSet, "rs-0")
		require.NoError(t, err)
		require.Equal(t, "kept", got.Name)
		refs, err := tx.ReferencedBy(b.ctx, acctA, "tp-1")
		require.NoError(t, err)
		require.Empty(t, refs)
		tags, err := tx.Tags(b.ctx, acctA, res(acctA, mailmanager.KindRuleSet, "rs-1", "").ARN)
		require.NoError(t, err)
		require.Empty(t, tags)
		owner, err := tx.Claimed(b.ctx, "smtp-port", "25")
		require.NoError(t, err)
		require.Empty(t, owner)
		n, err := tx.CountMembers(b.ctx, "al-1")
		require.NoError(t, err)
		require.Zero(t, n)
	})
	jobs, err := b.db.Jobs().List(b.ctx, river.NewJobListParams().Kinds(testJob{}.Kind()))
	require.NoError(t, err)
	require.Empty(t, jobs, "a job enqueued in a rolled-back transaction is not in the queue")
}

func testRollbackOnPanic(t *testing.T, b *bundle) {
	require.PanicsWithValue(t, "boom", func() {
		_ = b.mm.InTx(b.ctx, func(tx mailmanager.Tx) error {
			require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-1", "x")))
			panic("boom")
		})
	})
	b.tx(t, func(tx mailmanager.Tx) {
		_, err := tx.Get(b.ctx, acctA, mailmanager.KindRuleSet, "rs-1")
		requireKind(t, err, fault.NotFound)
		// The connection went back to the pool in a usable state.
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-1", "x")))
	})
}

func testListPagination(t *testing.T, b *bundle) {
	var ids []string
	for i := range 25 {
		ids = append(ids, fmt.Sprintf("rs-%02d", i))
	}
	// IDs whose byte order differs from a locale's order, to pin byte order.
	ids = append(ids, "RS-upper", "rs-_", "rs-é")
	shuffled := slices.Clone(ids)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b.tx(t, func(tx mailmanager.Tx) {
		for _, id := range shuffled {
			require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, id, "n-"+id, "ref-"+id)))
		}
		// Noise: other account, other kind.
		require.NoError(t, tx.Insert(b.ctx, res(acctB, mailmanager.KindRuleSet, "rs-05b", "")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRelay, "rs-05c", "")))
	})
	slices.Sort(ids) // byte order

	var got []string
	b.tx(t, func(tx mailmanager.Tx) {
		after := ""
		for {
			page, err := tx.List(b.ctx, acctA, mailmanager.KindRuleSet, after, 10)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 10)
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				got = append(got, r.ID)
				require.Equal(t, acctA, r.AccountID)
				require.Equal(t, mailmanager.KindRuleSet, r.Kind)
				require.Equal(t, "n-"+r.ID, r.Name)
				require.Equal(t, []string{"ref-" + r.ID}, r.Refs, "refs of %s", r.ID)
			}
			after = page[len(page)-1].ID
		}
		all, err := tx.List(b.ctx, acctA, mailmanager.KindRuleSet, "", 0)
		require.NoError(t, err)
		require.Len(t, all, len(ids), "limit 0 lists all")

		none, err := tx.List(b.ctx, acctA, mailmanager.KindArchive, "", 10)
		require.NoError(t, err)
		require.NotNil(t, none)
		require.Empty(t, none)
	})
	require.Equal(t, ids, got)
}

func testListAll(t *testing.T, b *bundle) {
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.Insert(b.ctx, res(acctB, mailmanager.KindIngressPoint, "inp-1", "", "rs-b")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindIngressPoint, "inp-2", "", "rs-a", "tp-a")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindIngressPoint, "inp-1", "")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-a", "")))
	})
	b.tx(t, func(tx mailmanager.Tx) {
		all, err := tx.ListAll(b.ctx, mailmanager.KindIngressPoint)
		require.NoError(t, err)
		var keys []string
		for _, r := range all {
			keys = append(keys, r.AccountID+"/"+r.ID+fmt.Sprint(r.Refs))
		}
		require.Equal(t, []string{acctA + "/inp-1[]", acctA + "/inp-2[rs-a tp-a]", acctB + "/inp-1[rs-b]"}, keys)
		none, err := tx.ListAll(b.ctx, mailmanager.KindArchive)
		require.NoError(t, err)
		require.Empty(t, none)
	})
}

func testReferencedBy(t *testing.T, b *bundle) {
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-1", "rules")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindTrafficPolicy, "tp-1", "policy")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindIngressPoint, "inp-2", "b", "rs-1", "tp-1")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindIngressPoint, "inp-1", "a", "rs-1")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindArchive, "a-1", "arch")))
		require.NoError(t, tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, "rs-2", "", "a-1")))
		// Another account's reference to the same ID does not count.
		require.NoError(t, tx.Insert(b.ctx, res(acctB, mailmanager.KindIngressPoint, "inp-9", "", "rs-1")))
	})
	b.tx(t, func(tx mailmanager.Tx) {
		refs, err := tx.ReferencedBy(b.ctx, acctA, "rs-1")
		require.NoError(t, err)
		require.Equal(t, []mailmanager.Ref{
			{Kind: mailmanager.KindIngressPoint, ID: "inp-1", Name: "a"},
			{Kind: mailmanager.KindIngressPoint, ID: "inp-2", Name: "b"},
		}, refs)
		refs, err = tx.ReferencedBy(b.ctx, acctA, "a-1")
		require.NoError(t, err)
		require.Equal(t, []mailmanager.Ref{{Kind: mailmanager.KindRuleSet, ID: "rs-2"}}, refs)
		refs, err = tx.ReferencedBy(b.ctx, acctA, "inp-1")
		require.NoError(t, err)
		require.NotNil(t, refs)
		require.Empty(t, refs)
	})
}

func testClaims(t *testing.T, b *bundle) {
	b.tx(t, func(tx mailmanager.Tx) {
		owner, err := tx.Claimed(b.ctx, "smtp-port", "2525")
		require.NoError(t, err)
		require.Empty(t, owner)

		require.NoError(t, tx.Claim(b.ctx, "smtp-port", "2525", "inp-1"))
		require.NoError(t, tx.Claim(b.ctx, "smtp-port", "2525", "inp-1"), "claiming one's own key again is fine")
		err = tx.Claim(b.ctx, "smtp-port", "2525", "inp-2")
		requireKind(t, err, fault.Conflict)
		require.Contains(t, err.Error(), "2525")
		// Namespaces are separate; the transaction goes on after a conflict.
		require.NoError(t, tx.Claim(b.ctx, "tls-port", "2525", "inp-2"))
		require.NoError(t, tx.Claim(b.ctx, "smtp-port", "2526", "inp-1"))

		owner, err = tx.Claimed(b.ctx, "smtp-port", "2525")
		require.NoError(t, err)
		require.Equal(t, "inp-1", owner)
	})
	// Claims are global: visible from any transaction, any account.
	b.tx(t, func(tx mailmanager.Tx) {
		requireKind(t, tx.Claim(b.ctx, "smtp-port", "2526", "inp-3"), fault.Conflict)
		require.NoError(t, tx.Release(b.ctx, "smtp-port", "inp-1"))
		require.NoError(t, tx.Release(b.ctx, "smtp-port", "inp-nobody"))
		for _, k := range []string{"2525", "2526"} {
			owner, err := tx.Claimed(b.ctx, "smtp-port", k)
			require.NoError(t, err)
			require.Empty(t, owner)
		}
		owner, err := tx.Claimed(b.ctx, "tls-port", "2525")
		require.NoError(t, err)
		require.Equal(t, "inp-2", owner, "Release drops only the namespace given")
		require.NoError(t, tx.Claim(b.ctx, "smtp-port", "2525", "inp-2"))
	})
}

func testTags(t *testing.T, b *bundle) {
	const arn = "arn:aws:ses:us-east-1:111111111111:mailmanager-rule-set/rs-1"
	b.tx(t, func(tx mailmanager.Tx) {
		tags, err := tx.Tags(b.ctx, acctA, arn)
		require.NoError(t, err)
		require.NotNil(t, tags)
		require.Empty(t, tags)

		require.NoError(t, tx.SetTags(b.ctx, acctA, arn, map[string]string{"env": "prod", "team": "mail", "empty": ""}))
		require.NoError(t, tx.SetTags(b.ctx, acctA, arn, map[string]string{"env": "staging"}))
		require.NoError(t, tx.SetTags(b.ctx, acctB, arn, map[string]string{"other": "account"}))
		require.NoError(t, tx.SetTags(b.ctx, acctA, arn, nil))
	})
	b.tx(t, func(tx mailmanager.Tx) {
		tags, err := tx.Tags(b.ctx, acctA, arn)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"env": "staging", "team": "mail", "empty": ""}, tags)

		require.NoError(t, tx.RemoveTags(b.ctx, acctA, arn, []string{"team", "absent"}))
		tags, err = tx.Tags(b.ctx, acctA, arn)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"env": "staging", "empty": ""}, tags)

		tags, err = tx.Tags(b.ctx, acctB, arn)
		require.NoError(t, err)
		require.Equal(t, map[string]string{"other": "account"}, tags)
	})
}

func testMembers(t *testing.T, b *bundle) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.AddMember(b.ctx, "al-1", "a@example.com", at))
		err := tx.AddMember(b.ctx, "al-1", "a@example.com", at)
		requireKind(t, err, fault.Conflict)
		require.Contains(t, err.Error(), "a@example.com")
		// Goes on after the conflict; addresses are exact (case kept).
		require.NoError(t, tx.AddMember(b.ctx, "al-1", "A@example.com", at))
		require.NoError(t, tx.AddMember(b.ctx, "al-2", "a@example.com", at))
	})
	b.tx(t, func(tx mailmanager.Tx) {
		m, err := tx.GetMember(b.ctx, "al-1", "a@example.com")
		require.NoError(t, err)
		require.Equal(t, &mailmanager.Member{Address: "a@example.com", CreatedAt: at}, m)
		_, err = tx.GetMember(b.ctx, "al-1", "b@example.com")
		requireKind(t, err, fault.NotFound)
		_, err = tx.GetMember(b.ctx, "al-3", "a@example.com")
		requireKind(t, err, fault.NotFound)

		n, err := tx.CountMembers(b.ctx, "al-1")
		require.NoError(t, err)
		require.EqualValues(t, 2, n)

		require.NoError(t, tx.RemoveMember(b.ctx, "al-1", "a@example.com"))
		requireKind(t, tx.RemoveMember(b.ctx, "al-1", "a@example.com"), fault.NotFound)
		_, err = tx.GetMember(b.ctx, "al-1", "a@example.com")
		requireKind(t, err, fault.NotFound)
		_, err = tx.GetMember(b.ctx, "al-2", "a@example.com")
		require.NoError(t, err, "other lists untouched")
		n, err = tx.CountMembers(b.ctx, "al-1")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
	})
}

func testMembersPagination(t *testing.T, b *bundle) {
	var addrs []string
	for i := range 30 {
		addrs = append(addrs, fmt.Sprintf("user%02d@a.example", i))
	}
	for i := range 7 {
		addrs = append(addrs, fmt.Sprintf("user%02d@b.example", i))
	}
	// Prefix edge cases: case, LIKE wildcards, non-ASCII.
	addrs = append(addrs, "USER@c.example", "us%r@d.example", "us_r@d.example", "usxr@d.example", "ü@e.example", "üb@e.example", "ü2@e.example")
	b.tx(t, func(tx mailmanager.Tx) {
		n, err := tx.AddMembers(b.ctx, "al-1", addrs, time.Time{})
		require.NoError(t, err)
		require.Equal(t, len(addrs), n)
		_, err = tx.AddMembers(b.ctx, "al-2", []string{"user00@a.example"}, time.Time{})
		require.NoError(t, err)
	})
	list := func(tx mailmanager.Tx, prefix string, pageSize int) []string {
		var got []string
		after := ""
		for {
			page, err := tx.ListMembers(b.ctx, "al-1", prefix, after, pageSize)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), pageSize)
			if len(page) == 0 {
				return got
			}
			for _, m := range page {
				got = append(got, m.Address)
				require.False(t, m.CreatedAt.IsZero())
			}
			after = page[len(page)-1].Address
		}
	}
	want := func(prefix string) []string {
		var w []string
		for _, a := range addrs {
			if len(a) >= len(prefix) && a[:len(prefix)] == prefix {
				w = append(w, a)
			}
		}
		slices.Sort(w)
		return w
	}
	b.tx(t, func(tx mailmanager.Tx) {
		require.Equal(t, want(""), list(tx, "", 7))
		for _, p := range []string{"user0", "user1", "user05@", "user0", "USER", "us%", "us_", "ü", "üb", "user00@b", "nobody", "user29@a.example"} {
			require.Equal(t, want(p), list(tx, p, 4), "prefix %q", p)
		}
		// after and prefix together: after can lie before, inside or past
		// the prefix's range.
		page, err := tx.ListMembers(b.ctx, "al-1", "user1", "user15@a.example", 3)
		require.NoError(t, err)
		require.Equal(t, []string{"user16@a.example", "user17@a.example", "user18@a.example"}, addresses(page))
		page, err = tx.ListMembers(b.ctx, "al-1", "user2", "user0", 2)
		require.NoError(t, err)
		require.Equal(t, []string{"user20@a.example", "user21@a.example"}, addresses(page))
		page, err = tx.ListMembers(b.ctx, "al-1", "user0", "zzz", 2)
		require.NoError(t, err)
		require.Empty(t, page)

		all, err := tx.ListMembers(b.ctx, "al-1", "", "", 0)
		require.NoError(t, err)
		require.Len(t, all, len(addrs), "limit 0 lists all")
		none, err := tx.ListMembers(b.ctx, "al-9", "", "", 10)
		require.NoError(t, err)
		require.NotNil(t, none)
		require.Empty(t, none)
	})
}

func addresses(ms []mailmanager.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Address)
	}
	return out
}

func testAddMembers(t *testing.T, b *bundle) {
	at := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	b.tx(t, func(tx mailmanager.Tx) {
		require.NoError(t, tx.AddMember(b.ctx, "al-1", "old@example.com", at.Add(-time.Hour)))
	})
	// More than one batch of the implementation, with duplicates inside
	// the input and against the list.
	var addrs []string
	for i := range 450 {
		addrs = append(addrs, fmt.Sprintf("m%04d@example.com", i))
	}
	in := append(slices.Clone(addrs), "old@example.com", addrs[0], addrs[449], addrs[200])
	b.tx(t, func(tx mailmanager.Tx) {
		n, err := tx.AddMembers(b.ctx, "al-1", in, at)
		require.NoError(t, err)
		require.Equal(t, 450, n, "only new addresses count")
		n, err = tx.AddMembers(b.ctx, "al-1", in, at)
		require.NoError(t, err)
		require.Zero(t, n)
		n, err = tx.AddMembers(b.ctx, "al-1", nil, at)
		require.NoError(t, err)
		require.Zero(t, n)
	})
	b.tx(t, func(tx mailmanager.Tx) {
		n, err := tx.CountMembers(b.ctx, "al-1")
		require.NoError(t, err)
		require.EqualValues(t, 451, n)
		m, err := tx.GetMember(b.ctx, "al-1", "old@example.com")
		require.NoError(t, err)
		require.Equal(t, at.Add(-time.Hour), m.CreatedAt, "an existing member keeps its time")
		m, err = tx.GetMember(b.ctx, "al-1", addrs[300])
		require.NoError(t, err)
		require.Equal(t, at, m.CreatedAt)
	})
}

// testConcurrentWriters: transactions from many goroutines all commit. On
// SQLite this is where SQLITE_BUSY would show.
func testConcurrentWriters(t *testing.T, b *bundle) {
	const workers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- b.mm.InTx(b.ctx, func(tx mailmanager.Tx) error {
					id := fmt.Sprintf("rs-%d-%d", w, i)
					// Read, then write: the pattern that makes a deferred
					// SQLite transaction fail when another wrote between.
					if _, err := tx.List(b.ctx, acctA, mailmanager.KindRuleSet, "", 5); err != nil {
						return err
					}
					if err := tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, id, id)); err != nil {
						return err
					}
					if _, err := tx.AddMembers(b.ctx, "al-1", []string{id + "@example.com"}, time.Time{}); err != nil {
						return err
					}
					return tx.Enqueue(b.ctx, testJob{N: w*100 + i})
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	b.tx(t, func(tx mailmanager.Tx) {
		all, err := tx.List(b.ctx, acctA, mailmanager.KindRuleSet, "", 0)
		require.NoError(t, err)
		require.Len(t, all, workers*each)
		n, err := tx.CountMembers(b.ctx, "al-1")
		require.NoError(t, err)
		require.EqualValues(t, workers*each, n)
	})
	jobs, err := b.db.Jobs().List(b.ctx, river.NewJobListParams().Kinds(testJob{}.Kind()).First(1000))
	require.NoError(t, err)
	require.Len(t, jobs, workers*each)
}

// testConcurrentSameName: of two transactions racing for one name, one wins
// and the other gets fault.Conflict.
func testConcurrentSameName(t *testing.T, b *bundle) {
	const racers = 4
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.mm.InTx(b.ctx, func(tx mailmanager.Tx) error {
				return tx.Insert(b.ctx, res(acctA, mailmanager.KindRuleSet, fmt.Sprintf("rs-%d", i), "contested"))
			})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		requireKind(t, err, fault.Conflict)
	}
	require.Equal(t, 1, won)
}

func testAccounts(t *testing.T, b *bundle) {
	s := b.db.IAM()
	at := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, s.EnsureAccount(b.ctx, iam.Account{ID: acctB, Name: "bee", CreatedAt: at}))
	require.NoError(t, s.EnsureAccount(b.ctx, iam.Account{ID: acctA, Name: "ay"}))
	require.NoError(t, s.EnsureAccount(b.ctx, iam.Account{ID: acctA, Name: "renamed"}), "ensure is idempotent")
	requireKind(t, s.EnsureAccount(b.ctx, iam.Account{Name: "no id"}), fault.Invalid)

	a, err := s.GetAccount(b.ctx, acctA)
	require.NoError(t, err)
	require.Equal(t, "ay", a.Name, "an existing account is left as it is")
	require.False(t, a.CreatedAt.IsZero())
	a, err = s.GetAccount(b.ctx, acctB)
	require.NoError(t, err)
	require.Equal(t, iam.Account{ID: acctB, Name: "bee", CreatedAt: at}, *a)
	_, err = s.GetAccount(b.ctx, "999999999999")
	requireKind(t, err, fault.NotFound)

	as, err := s.ListAccounts(b.ctx)
	require.NoError(t, err)
	require.Len(t, as, 2)
	require.Equal(t, acctA, as[0].ID)
	require.Equal(t, acctB, as[1].ID)
}

var (
	keyIDRE  = regexp.MustCompile(`\AAKIA[A-Z2-7]{16}\z`)
	secretRE = regexp.MustCompile(`\A[A-Za-z0-9+/]{40}\z`)
)

func testAccessKeys(t *testing.T, b *bundle) {
	s := b.db.IAM()
	require.NoError(t, s.EnsureAccount(b.ctx, iam.Account{ID: acctA, Name: "a"}))
	require.NoError(t, s.EnsureAccount(b.ctx, iam.Account{ID: acctB, Name: "b"}))

	k1 := iam.NewAccessKey(acctA)
	require.Regexp(t, keyIDRE, k1.AccessKeyID)
	require.Regexp(t, secretRE, k1.SecretAccessKey)
	require.Equal(t, iam.StatusActive, k1.Status)
	k2 := iam.NewAccessKey(acctA)
	require.NotEqual(t, k1.AccessKeyID, k2.AccessKeyID)
	require.NotEqual(t, k1.SecretAccessKey, k2.SecretAccessKey)
	k2.Status = ""
	k3 := iam.NewAccessKey(acctB)
	k3.Status = iam.StatusInactive

	for _, k := range []iam.AccessKey{k1, k2, k3} {
		require.NoError(t, s.CreateAccessKey(b.ctx, k))
	}
	dup := k1
	dup.SecretAccessKey = "other"
	requireKind(t, s.CreateAccessKey(b.ctx, dup), fault.Conflict)
	requireKind(t, s.CreateAccessKey(b.ctx, iam.NewAccessKey("999999999999")), fault.NotFound)
	bad := iam.NewAccessKey(acctA)
	bad.Status = "Maybe"
	requireKind(t, s.CreateAccessKey(b.ctx, bad), fault.Invalid)

	got, err := s.GetAccessKey(b.ctx, k1.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, k1, *got)
	got, err = s.GetAccessKey(b.ctx, k2.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, iam.StatusActive, got.Status, "empty status is stored as Active")
	_, err = s.GetAccessKey(b.ctx, "AKIANOTAKEY")
	requireKind(t, err, fault.NotFound)

	ks, err := s.ListAccessKeys(b.ctx, acctA)
	require.NoError(t, err)
	ids := []string{k1.AccessKeyID, k2.AccessKeyID}
	slices.Sort(ids)
	require.Equal(t, ids, []string{ks[0].AccessKeyID, ks[1].AccessKeyID})
	ks, err = s.ListAccessKeys(b.ctx, "999999999999")
	require.NoError(t, err)
	require.Empty(t, ks)

	require.NoError(t, s.DeleteAccessKey(b.ctx, k1.AccessKeyID))
	requireKind(t, s.DeleteAccessKey(b.ctx, k1.AccessKeyID), fault.NotFound)
	_, err = s.GetAccessKey(b.ctx, k1.AccessKeyID)
	requireKind(t, err, fault.NotFound)
	ks, err = s.ListAccessKeys(b.ctx, acctA)
	require.NoError(t, err)
	require.Len(t, ks, 1)
}

func testLookupAccessKey(t *testing.T, b *bundle) {
	s := b.db.IAM()
	require.NoError(t, s.EnsureAccount(b.ctx, iam.Account{ID: acctA}))
	active := iam.NewAccessKey(acctA)
	inactive := iam.NewAccessKey(acctA)
	inactive.Status = iam.StatusInactive
	require.NoError(t, s.CreateAccessKey(b.ctx, active))
	require.NoError(t, s.CreateAccessKey(b.ctx, inactive))

	lookup := b.db.KeyLookup()
	secret, p, err := lookup.LookupAccessKey(b.ctx, active.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, active.SecretAccessKey, secret)
	require.Equal(t, iam.Principal{AccountID: acctA, AccessKeyID: active.AccessKeyID, ARN: "arn:aws:iam::" + acctA + ":root"}, p)

	secret, _, err = lookup.LookupAccessKey(b.ctx, inactive.AccessKeyID)
	requireKind(t, err, fault.AccessDenied)
	require.Empty(t, secret)
	_, _, err = lookup.LookupAccessKey(b.ctx, "AKIAUNKNOWN")
	requireKind(t, err, fault.NotFound)

	// IAM() itself answers the lookup too.
	_, ok := s.(interface {
		LookupAccessKey(context.Context, string) (string, iam.Principal, error)
	})
	require.True(t, ok)
}

func testSettings(t *testing.T, b *bundle) {
	s := b.db.IAM()
	_, found, err := s.GetSetting(b.ctx, "root-key")
	require.NoError(t, err)
	require.False(t, found)
	require.NoError(t, s.PutSetting(b.ctx, "root-key", "AKIA1"))
	require.NoError(t, s.PutSetting(b.ctx, "root-key", "AKIA2"))
	require.NoError(t, s.PutSetting(b.ctx, "empty", ""))
	v, found, err := s.GetSetting(b.ctx, "root-key")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "AKIA2", v)
	v, found, err = s.GetSetting(b.ctx, "empty")
	require.NoError(t, err)
	require.True(t, found)
	require.Empty(t, v)
}

func testIdempotency(t *testing.T, b *bundle) {
	s := b.db.Idempotency()
	_, _, found, err := s.Remembered(b.ctx, acctA, "tok")
	require.NoError(t, err)
	require.False(t, found)

	old := time.Now().Add(-48 * time.Hour)
	require.NoError(t, s.Remember(b.ctx, acctA, "tok", "h1", []byte(`{"Id":"1"}`), time.Now()))
	require.NoError(t, s.Remember(b.ctx, acctA, "tok", "h2", []byte(`{"Id":"2"}`), time.Now()))
	require.NoError(t, s.Remember(b.ctx, acctB, "tok", "hb", nil, old))

	hash, resp, found, err := s.Remembered(b.ctx, acctA, "tok")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "h1", hash, "the first answer stays")
	require.Equal(t, []byte(`{"Id":"1"}`), resp)

	hash, resp, found, err = s.Remembered(b.ctx, acctB, "tok")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "hb", hash)
	require.Empty(t, resp)

	n, err := b.db.PurgeIdempotency(b.ctx, time.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, _, found, err = s.Remembered(b.ctx, acctB, "tok")
	require.NoError(t, err)
	require.False(t, found)
	_, _, found, err = s.Remembered(b.ctx, acctA, "tok")
	require.NoError(t, err)
	require.True(t, found)
}

// testEnqueue: a job enqueued in a committed transaction is in the queue
// with its arguments; one in a rolled-back transaction is not. (That the
// committed one runs is internal/jobs' test.)
func testEnqueue(t *testing.T, b *bundle) {
	b.tx(t, func(tx mailmanager.Tx) { require.NoError(t, tx.Enqueue(b.ctx, testJob{N: 1})) })
	err := b.mm.InTx(b.ctx, func(tx mailmanager.Tx) error {
		require.NoError(t, tx.Enqueue(b.ctx, testJob{N: 2}))
		return errors.New("roll back")
	})
	require.Error(t, err)
	b.tx(t, func(tx mailmanager.Tx) { require.NoError(t, tx.Enqueue(b.ctx, testJob{N: 3})) })

	jobs, err := b.db.Jobs().List(b.ctx, river.NewJobListParams().Kinds(testJob{}.Kind()))
	require.NoError(t, err)
	var ns []int
	for _, j := range jobs {
		var a testJob
		require.NoError(t, json.Unmarshal(j.EncodedArgs, &a))
		ns = append(ns, a.N)
	}
	slices.Sort(ns)
	require.Equal(t, []int{1, 3}, ns)
}

func testPing(t *testing.T, b *bundle) {
	require.NoError(t, b.db.Ping(b.ctx))
	require.Contains(t, []string{"sqlite", "postgres"}, b.db.Dialect())
}
