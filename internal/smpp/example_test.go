package smpp_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/tidings/tidings/internal/smpp"
)

func Example() {
	ctx := context.Background()
	c, err := smpp.Dial(ctx, smpp.Config{
		Addr:     "smsc.example.net:2775",
		SystemID: "tidings",
		Password: "secret",
		Window:   10,
		Rate:     50, // submit_sm per second
		OnReceipt: func(_ context.Context, r smpp.Receipt) error {
			fmt.Println(r.MessageID, r.State, r.Final())
			return nil // an error makes the SMSC deliver the receipt again
		},
		OnMessage: func(_ context.Context, in smpp.Incoming) error {
			fmt.Println(in.Source, in.Text)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err) // e.g. smpp: bind_transceiver rejected with ESME_RINVPASWD
	}
	defer c.Close() // waits for outstanding submits, then unbinds

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := c.Submit(ctx, smpp.Message{
		Source: "Tidings", SourceTON: 5,
		Dest: "447700900123", DestTON: 1, DestNPI: 1,
		Text:               "Your code is 123456",
		RegisteredDelivery: smpp.RegisteredDeliveryAlways,
	})
	if smpp.IsRetryable(err) {
		// try again later: connection lost, not bound, throttled, ...
	}
	fmt.Println(res.Encoding, res.MessageIDs)
}

func ExampleSegments() {
	enc, parts := smpp.Segments("Grüße aus Köln")
	fmt.Println(enc, len(parts))
	enc, parts = smpp.Segments("Привет")
	fmt.Println(enc, len(parts))
	// Output:
	// GSM-7 1
	// UCS-2 1
}
