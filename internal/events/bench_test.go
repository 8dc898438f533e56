package events_test

import (
	"context"
	"testing"

	"github.com/tidings/tidings/internal/events"
	"github.com/tidings/tidings/internal/store/storetest"
)

// BenchmarkPublish measures durable publishes (event row, one delivery
// row and its job, committed) on SQLite, 8 publishers at once.
func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	db := storetest.OpenSQLite(b)
	svc, err := events.New(db.Events(), events.Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateTopic(ctx, acct, "bench"); err != nil {
		b.Fatal(err)
	}
	// A subscriber that is never called: the queue is not started.
	if _, err := svc.Subscribe(ctx, acct, events.SubscribeInput{Topic: "bench", URL: "http://127.0.0.1:1/"}); err != nil {
		b.Fatal(err)
	}
	msg := []byte(`{"eventType":"Delivery","mail":{"messageId":"0100018f-bench"}}`)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := svc.Publish(ctx, acct, "arn:aws:sns:us-east-1:"+acct+":bench", msg); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
