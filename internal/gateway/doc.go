// Package gateway is the inbound email gateway: it joins the SMTP server
// (internal/smtpd), the traffic policies and rule sets (internal/rules),
// SPF/DKIM/DMARC (internal/mailauth) and SMTP delivery (internal/delivery)
// to the configuration the Mail Manager API keeps (internal/mailmanager).
//
// # Life of a message
//
//   - Listeners: one smtpd.Server per ingress point, on its port, kept in
//     step with the configuration (polled every 2 s, or at once on Kick):
//     CLOSED answers 421; a new traffic policy or password applies at once;
//     a new type, TLS policy or size limit starts a new server for new
//     connections while the old one finishes its sessions.
//   - Spool: the message is streamed to the blob store
//     (spool/<yyyy>/<mm>/<dd>/<queue id>, fsynced), then its row and its
//     gateway.process job are committed in one transaction (group commit:
//     sessions that finish together share it), and only then "250".
//   - gateway.process: SPF, DKIM and DMARC are checked (from the spooled
//     copy, so DNS never holds a client), the rule set is evaluated per
//     recipient into a plan of steps, and the steps run in order, each one
//     recorded in the transaction that commits what it queues. A re-run
//     after a crash skips the steps done; a step with effects outside the
//     database (Archive, WriteToS3, DeliverToMailbox) runs under a lease on
//     the message and may be repeated if the crash fell inside it — a
//     duplicate, never a loss. The first attempt of every Relay step is
//     made by this job at once.
//   - gateway.relay: later attempts of deferred recipients, on the retry
//     schedule; per-recipient state (DELIVERED, DEFERRED, FAILED) in the
//     queue. Permanent failures queue gateway.dsn: a delivery status
//     notification to the envelope sender by its MX, never to the null
//     sender.
//   - gateway.sweep (every minute) queues again the work of leases whose
//     worker died; gateway.purge (hourly) forgets finished messages after
//     Config.KeepDone.
//
// Every message handed to an action carries this gateway's
// Authentication-Results field (forged ones in its name are removed) and
// the fields AddHeader steps added; every relayed message carries
// X-Mail-Manager-Originator-Org with the relay's id, replacing any that
// came in (the EchoSpoofing defence).
//
// The package owns its storage interface (Store) and its metrics seam
// (Observer); internal/store and internal/app implement them.
package gateway
