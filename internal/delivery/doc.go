// Package delivery is the SMTP client side of Tidings: it delivers one message
// to one destination (a relay host or the MX hosts of a domain) and says, per
// recipient, what happened. It also holds the policy around delivery: the
// retry schedule and delivery status notifications (RFC 3464).
//
// The package imports no storage. The caller (a River job of the gateway or
// of the outbound pipeline) keeps the per-recipient state that Deliver
// returns, schedules the next attempt with RetryPolicy.NextAttempt, and
// queues the DSN that BuildDSN writes.
//
// # Transport security
//
// STARTTLS (RFC 3207) is used whenever the server offers it. What happens
// when it is absent or fails depends on the destination's TLSPolicy:
//
//   - Relays verify the server certificate by default (the operator named the
//     host, so the name is known to be right). A relay that offers STARTTLS
//     with a certificate that does not verify is a temporary failure, never a
//     silent downgrade.
//   - MX hosts are, by default, opportunistic without verification, as
//     Postfix's "smtp_tls_security_level = may": any certificate is accepted,
//     because without DANE or MTA-STS nothing says which name an MX host's
//     certificate should carry. If the handshake itself fails, the message is
//     retried on a new connection in plaintext (Postfix does the same), since
//     an unauthenticated peer could strip STARTTLS anyway.
//   - TLSPolicy.Require makes a missing STARTTLS or a failed handshake a
//     temporary failure (4.7.5), for relays and MX alike.
//
// AUTH (PLAIN, or LOGIN when PLAIN is not offered) is used when the
// destination has credentials, and only over TLS unless
// TLSPolicy.AllowPlaintextAuth is set. An authentication failure defers the
// message rather than bouncing it (Postfix's smtp_sasl_auth_soft_bounce): it is
// a configuration problem an operator can fix.
//
// # Why not go-smtp's client
//
// The protocol code here is written against the RFCs instead of using
// emersion/go-smtp's Client, which cannot issue STARTTLS after an EHLO with
// our own name (its pre-TLS EHLO always says "localhost", and a server without
// STARTTLS costs a second connection), re-sends EHLO after every RSET, sends
// no pipelined commands (RFC 2920) and puts no deadline on writing the message
// body. go-smtp's server is what the tests talk to.
package delivery
