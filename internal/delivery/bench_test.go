package delivery

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkDeliver measures the client's cost per message over pooled,
// pipelined connections to an in-process server: the relay hot path.
// (End-to-end throughput against Postfix is for bench/relay.)
func BenchmarkDeliver(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			ts := startServer(b)
			ts.discard = true
			dl := New(Config{LocalName: "bench.test", MaxMessagesPerConn: 1 << 30})
			defer dl.Close()
			msg := "Subject: bench\r\n\r\n" + strings.Repeat(strings.Repeat("x", 76)+"\r\n", size/78)
			env := Envelope{MailFrom: "a@src.test", Recipients: []string{"b@dst.test"}, Size: int64(len(msg))}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.SetParallelism(10) // 20 sessions on 2 CPUs, like a relay benchmark
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res := dl.Deliver(context.Background(), ts.relay(), env, msgBody(msg))
					if res.Recipients[0].Status != Delivered {
						b.Errorf("not delivered: %+v", res.Recipients[0])
						return
					}
				}
			})
		})
	}
}
