package gateway

import "context"

// Process runs the gateway.process job for a message, as River would.
func (g *Gateway) Process(ctx context.Context, queueID string) error {
	return g.process(ctx, ProcessArgs{QueueID: queueID})
}
