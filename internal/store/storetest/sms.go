package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/sms"
	"github.com/tidings/tidings/internal/store"
)

// RunSMS is the conformance suite of the SMS store (sms.Store); open
// returns a fresh, empty database for each test.
func RunSMS(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *smsBundle)
	}{
		{"ResourceRoundTrip", testSMSResourceRoundTrip},
		{"UniqueNameAndKey", testSMSUniqueNameAndKey},
		{"ListPages", testSMSListPages},
		{"CountAndEntries", testSMSCountAndEntries},
		{"OptedOut", testSMSOptedOut},
		{"Messages", testSMSMessages},
		{"EnqueueRollsBack", testSMSEnqueueRollsBack},
		{"ConcurrentMessageUpdates", testSMSConcurrentMessageUpdates},
		{"Lock", testSMSLock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			t.Cleanup(cancel)
			db := open(t)
			tt.fn(t, &smsBundle{ctx: ctx, db: db, st: db.SMS()})
		})
	}
}

type smsBundle struct {
	ctx context.Context
	db  *store.DB
	st  sms.Store
}

func (b *smsBundle) tx(t *testing.T, fn func(tx sms.Tx) error) {
	t.Helper()
	require.NoError(t, b.st.InTx(b.ctx, fn))
}

var smsT0 = time.UnixMilli(1_700_000_000_000).UTC()

func smsNumber(account, id, number string) *sms.Resource {
	return &sms.Resource{AccountID: account, Kind: sms.KindPhoneNumber, ID: id, GlobalKey: number,
		Body: []byte(`{"number":"` + number + `"}`), CreatedAt: smsT0, UpdatedAt: smsT0}
}

func testSMSResourceRoundTrip(t *testing.T, b *smsBundle) {
	r := smsNumber("111122223333", "phone-1", "+12065550100")
	b.tx(t, func(tx sms.Tx) error { return tx.Insert(b.ctx, r) })
	b.tx(t, func(tx sms.Tx) error {
		got, err := tx.Get(b.ctx, r.AccountID, r.Kind, r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got)
		got, err = tx.GetByKey(b.ctx, sms.KindPhoneNumber, "+12065550100")
		require.NoError(t, err)
		require.Equal(t, r, got)
		_, err = tx.Get(b.ctx, "999988887777", r.Kind, r.ID)
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		_, err = tx.Get(b.ctx, r.AccountID, sms.KindPool, r.ID)
		require.True(t, fault.Is(err, fault.NotFound), "other kind: %v", err)

		r.Body, r.UpdatedAt = []byte(`{"number":"+12065550100","x":1}`), smsT0.Add(time.Hour)
		require.NoError(t, tx.Update(b.ctx, r))
		got, err = tx.Get(b.ctx, r.AccountID, r.Kind, r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got)

		// Put inserts, then replaces.
		conv := &sms.Resource{AccountID: "a", Kind: "conversation", ID: "x|y", Body: []byte(`{"m":1}`), CreatedAt: smsT0, UpdatedAt: smsT0}
		require.NoError(t, tx.Put(b.ctx, conv))
		conv.Body, conv.UpdatedAt = []byte(`{"m":2}`), smsT0.Add(time.Minute)
		require.NoError(t, tx.Put(b.ctx, conv))
		got, err = tx.Get(b.ctx, "a", "conversation", "x|y")
		require.NoError(t, err)
		require.Equal(t, conv, got)
		require.Error(t, tx.Put(b.ctx, &sms.Resource{AccountID: "a", Kind: "k", ID: "i", Name: "n"}), "named resources go through Insert and Update")

		require.NoError(t, tx.Delete(b.ctx, r.AccountID, r.Kind, r.ID))
		err = tx.Delete(b.ctx, r.AccountID, r.Kind, r.ID)
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		err = tx.Update(b.ctx, r)
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		return nil
	})
}

// Names are unique per account and kind; global keys per kind across
// accounts; a conflict leaves the transaction usable (PostgreSQL too).
func testSMSUniqueNameAndKey(t *testing.T, b *smsBundle) {
	cs := func(account, name string) *sms.Resource {
		return &sms.Resource{AccountID: account, Kind: sms.KindConfigurationSet, ID: name, Name: name, Body: []byte(`{}`)}
	}
	b.tx(t, func(tx sms.Tx) error {
		require.NoError(t, tx.Insert(b.ctx, smsNumber("a", "phone-1", "+12065550100")))
		err := tx.Insert(b.ctx, smsNumber("b", "phone-2", "+12065550100"))
		require.True(t, fault.Is(err, fault.Conflict), "key taken in another account: %v", err)
		err = tx.Insert(b.ctx, smsNumber("a", "phone-1", "+12065550101"))
		require.True(t, fault.Is(err, fault.Conflict), "same ID: %v", err)
		require.NoError(t, tx.Insert(b.ctx, smsNumber("b", "phone-2", "+12065550101")))
		// Moving phone-2 onto phone-1's key fails, and nothing changes.
		err = tx.Update(b.ctx, smsNumber("b", "phone-2", "+12065550100"))
		require.True(t, fault.Is(err, fault.Conflict), "%v", err)

		require.NoError(t, tx.Insert(b.ctx, cs("a", "otp")))
		require.NoError(t, tx.Insert(b.ctx, cs("b", "otp")), "names are per account")
		err = tx.Insert(b.ctx, &sms.Resource{AccountID: "a", Kind: sms.KindConfigurationSet, ID: "other", Name: "otp", Body: []byte(`{}`)})
		require.True(t, fault.Is(err, fault.Conflict), "%v", err)
		got, err := tx.GetByName(b.ctx, "b", sms.KindConfigurationSet, "otp")
		require.NoError(t, err)
		require.Equal(t, "b", got.AccountID)
		return nil
	})
	b.tx(t, func(tx sms.Tx) error {
		got, err := tx.GetByKey(b.ctx, sms.KindPhoneNumber, "+12065550101")
		require.NoError(t, err)
		require.Equal(t, "phone-2", got.ID)
		return nil
	})
}

func testSMSListPages(t *testing.T, b *smsBundle) {
	b.tx(t, func(tx sms.Tx) error {
		for i := range 7 {
			if err := tx.Insert(b.ctx, smsNumber("a", fmt.Sprintf("phone-%02d", i), fmt.Sprintf("+1206555010%d", i))); err != nil {
				return err
			}
		}
		require.NoError(t, tx.Insert(b.ctx, smsNumber("b", "phone-99", "+12065550199")))
		require.NoError(t, tx.Insert(b.ctx, &sms.Resource{AccountID: "a", Kind: sms.KindPool, ID: "pool-1", Body: []byte(`{}`)}))
		var ids []string
		after := ""
		for {
			page, err := tx.List(b.ctx, "a", sms.KindPhoneNumber, after, 3)
			require.NoError(t, err)
			for _, r := range page {
				ids = append(ids, r.ID)
			}
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].ID
		}
		require.Equal(t, []string{"phone-00", "phone-01", "phone-02", "phone-03", "phone-04", "phone-05", "phone-06"}, ids)
		return nil
	})
}

func testSMSOptedOut(t *testing.T, b *smsBundle) {
	b.tx(t, func(tx sms.Tx) error {
		require.NoError(t, tx.PutOptedOut(b.ctx, "a", "Default", sms.OptedOut{Number: "+14254147755", EndUser: true, CreatedAt: smsT0}))
		require.NoError(t, tx.PutOptedOut(b.ctx, "a", "Default", sms.OptedOut{Number: "+12065550100", CreatedAt: smsT0}))
		require.NoError(t, tx.PutOptedOut(b.ctx, "a", "other", sms.OptedOut{Number: "+12065550100", CreatedAt: smsT0}))
		// Put again: the flag changes, the time stays.
		require.NoError(t, tx.PutOptedOut(b.ctx, "a", "Default", sms.OptedOut{Number: "+12065550100", EndUser: true, CreatedAt: smsT0.Add(time.Hour)}))
		got, err := tx.GetOptedOut(b.ctx, "a", "Default", "+12065550100")
		require.NoError(t, err)
		require.Equal(t, &sms.OptedOut{Number: "+12065550100", EndUser: true, CreatedAt: smsT0}, got)
		_, err = tx.GetOptedOut(b.ctx, "b", "Default", "+12065550100")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)

		list, err := tx.ListOptedOut(b.ctx, "a", "Default", "", 10)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "+12065550100", list[0].Number)
		list, err = tx.ListOptedOut(b.ctx, "a", "Default", "+12065550100", 10)
		require.NoError(t, err)
		require.Len(t, list, 1)

		require.NoError(t, tx.DeleteOptedOut(b.ctx, "a", "Default", "+14254147755"))
		err = tx.DeleteOptedOut(b.ctx, "a", "Default", "+14254147755")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		require.NoError(t, tx.ClearOptedOut(b.ctx, "a", "Default"))
		list, err = tx.ListOptedOut(b.ctx, "a", "Default", "", 10)
		require.NoError(t, err)
		require.Empty(t, list)
		list, err = tx.ListOptedOut(b.ctx, "a", "other", "", 10)
		require.NoError(t, err)
		require.Len(t, list, 1, "other lists stay")
		return nil
	})
}

func testSMSMessages(t *testing.T, b *smsBundle) {
	m := &sms.MessageRecord{ID: "m1", AccountID: "a", Body: []byte(`{"x":1}`), CreatedAt: smsT0, UpdatedAt: smsT0}
	old := &sms.MessageRecord{ID: "m0", AccountID: "a", Body: []byte(`{}`), CreatedAt: smsT0.Add(-time.Hour), UpdatedAt: smsT0}
	b.tx(t, func(tx sms.Tx) error {
		require.NoError(t, tx.InsertMessage(b.ctx, m))
		require.NoError(t, tx.InsertMessage(b.ctx, old))
		err := tx.InsertMessage(b.ctx, m)
		require.True(t, fault.Is(err, fault.Conflict), "%v", err)
		got, err := tx.GetMessage(b.ctx, "m1")
		require.NoError(t, err)
		require.Equal(t, m, got)
		_, err = tx.GetMessageByProvider(b.ctx, "p1")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)

		m.ProviderID, m.Body, m.UpdatedAt = "p1", []byte(`{"x":2}`), smsT0.Add(time.Minute)
		require.NoError(t, tx.UpdateMessage(b.ctx, m))
		got, err = tx.GetMessageByProvider(b.ctx, "p1")
		require.NoError(t, err)
		require.Equal(t, m, got)
		// The other parts of a concatenated message find it too.
		_, err = tx.GetMessageByProvider(b.ctx, "p1-2")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		require.NoError(t, tx.InsertMessageParts(b.ctx, "m1", []string{"p1-2", "p1-3"}))
		require.NoError(t, tx.InsertMessageParts(b.ctx, "m1", []string{"p1-3"}), "idempotent")
		got, err = tx.GetMessageByProvider(b.ctx, "p1-3")
		require.NoError(t, err)
		require.Equal(t, m, got)

		pending, err := tx.PendingMessages(b.ctx, smsT0.Add(time.Second), 10)
		require.NoError(t, err)
		require.Equal(t, []string{"m0", "m1"}, []string{pending[0].ID, pending[1].ID}, "oldest first")
		pending, err = tx.PendingMessages(b.ctx, smsT0, 10)
		require.NoError(t, err)
		require.Len(t, pending, 1, "created before the cutoff only")

		m.Final = true
		require.NoError(t, tx.UpdateMessage(b.ctx, m))
		pending, err = tx.PendingMessages(b.ctx, smsT0.Add(time.Hour), 10)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		require.Equal(t, "m0", pending[0].ID)
		err = tx.UpdateMessage(b.ctx, &sms.MessageRecord{ID: "nope", Body: []byte(`{}`)})
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		return nil
	})
}

// A message and its send job commit together, or neither does.
func testSMSEnqueueRollsBack(t *testing.T, b *smsBundle) {
	err := b.st.InTx(b.ctx, func(tx sms.Tx) error {
		require.NoError(t, tx.InsertMessage(b.ctx, &sms.MessageRecord{ID: "m1", AccountID: "a", Body: []byte(`{}`)}))
		require.NoError(t, tx.Enqueue(b.ctx, sms.SendArgs{MessageID: "m1"}))
		return errors.New("roll back")
	})
	require.Error(t, err)
	b.tx(t, func(tx sms.Tx) error {
		if err := tx.InsertMessage(b.ctx, &sms.MessageRecord{ID: "m2", AccountID: "a", Body: []byte(`{}`)}); err != nil {
			return err
		}
		return tx.Enqueue(b.ctx, sms.SendArgs{MessageID: "m2"})
	})
	b.tx(t, func(tx sms.Tx) error {
		_, err := tx.GetMessage(b.ctx, "m1")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		return nil
	})
	jobs, err := b.db.Jobs().List(b.ctx, river.NewJobListParams().Kinds(sms.KindSend))
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Contains(t, string(jobs[0].EncodedArgs), "m2")
}

// Receipts read a message, change it and write it back: GetMessage locks
// it, so concurrent read-modify-writes lose nothing.
func testSMSConcurrentMessageUpdates(t *testing.T, b *smsBundle) {
	b.tx(t, func(tx sms.Tx) error {
		return tx.InsertMessage(b.ctx, &sms.MessageRecord{ID: "m1", AccountID: "a", Body: []byte(`""`)})
	})
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.st.InTx(b.ctx, func(tx sms.Tx) error {
				m, err := tx.GetMessage(b.ctx, "m1")
				if err != nil {
					return err
				}
				time.Sleep(5 * time.Millisecond) // widen the window a lost update needs
				m.Body = []byte(strings.TrimSuffix(string(m.Body), `"`) + fmt.Sprint(i) + `"`)
				return tx.UpdateMessage(b.ctx, m)
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	b.tx(t, func(tx sms.Tx) error {
		m, err := tx.GetMessage(b.ctx, "m1")
		require.NoError(t, err)
		require.Len(t, string(m.Body), n+2, "every update kept: %s", m.Body)
		return nil
	})
}

// Count counts per account and kind; entries belong to their resource: a
// missing resource has none, and deleting the resource deletes them.
func testSMSCountAndEntries(t *testing.T, b *smsBundle) {
	const acct = "111122223333"
	b.tx(t, func(tx sms.Tx) error {
		for i := range 3 {
			require.NoError(t, tx.Insert(b.ctx, smsNumber(acct, fmt.Sprintf("phone-%d", i), fmt.Sprintf("+1206555010%d", i))))
		}
		require.NoError(t, tx.Insert(b.ctx, smsNumber("999988887777", "phone-x", "+12065550199")))
		n, err := tx.Count(b.ctx, acct, sms.KindPhoneNumber)
		require.NoError(t, err)
		require.EqualValues(t, 3, n)
		n, err = tx.Count(b.ctx, acct, sms.KindPool)
		require.NoError(t, err)
		require.Zero(t, n)

		e := &sms.Entry{Key: "policy", Body: []byte(`{"Version":"2012-10-17"}`), CreatedAt: smsT0, UpdatedAt: smsT0}
		require.NoError(t, tx.PutEntry(b.ctx, acct, sms.KindPhoneNumber, "phone-0", e))
		err = tx.PutEntry(b.ctx, acct, sms.KindPhoneNumber, "phone-nope", &sms.Entry{Key: "policy", Body: []byte(`{}`)})
		require.True(t, fault.Is(err, fault.NotFound), "no such resource: %v", err)
		err = tx.PutEntry(b.ctx, "999988887777", sms.KindPhoneNumber, "phone-0", &sms.Entry{Key: "policy", Body: []byte(`{}`)})
		require.True(t, fault.Is(err, fault.NotFound), "another account's: %v", err)
		// A replace keeps CreatedAt.
		e2 := &sms.Entry{Key: "policy", Body: []byte(`{"v":2}`), CreatedAt: smsT0.Add(time.Hour), UpdatedAt: smsT0.Add(time.Hour)}
		require.NoError(t, tx.PutEntry(b.ctx, acct, sms.KindPhoneNumber, "phone-0", e2))
		require.Equal(t, smsT0, e2.CreatedAt)
		got, err := tx.GetEntry(b.ctx, acct, sms.KindPhoneNumber, "phone-0", "policy")
		require.NoError(t, err)
		require.Equal(t, &sms.Entry{Key: "policy", Body: []byte(`{"v":2}`), CreatedAt: smsT0, UpdatedAt: smsT0.Add(time.Hour)}, got)
		_, err = tx.GetEntry(b.ctx, acct, sms.KindPhoneNumber, "phone-1", "policy")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)

		for _, k := range []string{"o/+33", "o/+12", "o/+44", "p", "n"} {
			require.NoError(t, tx.PutEntry(b.ctx, acct, sms.KindPhoneNumber, "phone-1", &sms.Entry{Key: k, Body: []byte(`{}`)}))
		}
		list, err := tx.ListEntries(b.ctx, acct, sms.KindPhoneNumber, "phone-1", "o/", "", 2)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, []string{"o/+12", "o/+33"}, []string{list[0].Key, list[1].Key})
		list, err = tx.ListEntries(b.ctx, acct, sms.KindPhoneNumber, "phone-1", "o/", "o/+33", 2)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "o/+44", list[0].Key)
		list, err = tx.ListEntries(b.ctx, acct, sms.KindPhoneNumber, "phone-1", "", "", 10)
		require.NoError(t, err)
		require.Len(t, list, 5)

		require.NoError(t, tx.DeleteEntry(b.ctx, acct, sms.KindPhoneNumber, "phone-1", "p"))
		err = tx.DeleteEntry(b.ctx, acct, sms.KindPhoneNumber, "phone-1", "p")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		return nil
	})
	// Deleting the resource deletes its entries; a new resource of that ID
	// starts with none.
	b.tx(t, func(tx sms.Tx) error {
		require.NoError(t, tx.Delete(b.ctx, acct, sms.KindPhoneNumber, "phone-0"))
		require.NoError(t, tx.Insert(b.ctx, smsNumber(acct, "phone-0", "+12065550100")))
		_, err := tx.GetEntry(b.ctx, acct, sms.KindPhoneNumber, "phone-0", "policy")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
		n, err := tx.Count(b.ctx, acct, sms.KindPhoneNumber)
		require.NoError(t, err)
		require.EqualValues(t, 3, n)
		return nil
	})
}

// testSMSLock: a transaction locking a key another holds waits until that
// one ends; other keys do not wait.
func testSMSLock(t *testing.T, b *smsBundle) {
	var ended atomic.Bool
	locked := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.st.InTx(b.ctx, func(tx sms.Tx) error {
			if err := tx.Lock(b.ctx, "spend/a"); err != nil {
				return err
			}
			close(locked)
			time.Sleep(200 * time.Millisecond) // room for a second taker to get in wrongly
			ended.Store(true)
			return nil
		})
	}()
	<-locked
	b.tx(t, func(tx sms.Tx) error {
		require.NoError(t, tx.Lock(b.ctx, "spend/a"))
		require.True(t, ended.Load(), "the second taker got the lock while the first held it")
		return nil
	})
	require.NoError(t, <-done)
	b.tx(t, func(tx sms.Tx) error {
		require.NoError(t, tx.Lock(b.ctx, "spend/a"))
		return tx.Lock(b.ctx, "spend/b")
	})
}
