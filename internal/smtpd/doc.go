// Package smtpd is the SMTP server of one ingress point of the gateway,
// and of the SMTP submission listeners of outbound email
// (internal/submission).
//
// A [Server] answers SMTP (RFC 5321) on one listener for one [Endpoint]: the
// ingress point's address, TLS certificate and policy, its authentication
// (AUTH with a password, or client certificates for MTLS), its limits, its
// traffic [Policy] and the [Spooler] that makes a message durable. The
// package knows nothing of storage or metrics: the policy, the spool and the
// [Observer] are small interfaces owned here and implemented by the gateway.
//
// # Extensions
//
// EHLO advertises PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC
// 6152), SMTPUTF8 (RFC 6531), ENHANCEDSTATUSCODES (RFC 2034 and 3463),
// STARTTLS (RFC 3207) when a certificate is configured, and AUTH PLAIN LOGIN
// (RFC 4954) only inside TLS on an AUTH ingress point. With ImplicitTLS the
// TLS handshake comes first and SMTP runs inside it (RFC 8314, port 465).
// Where TLS is required, every command but EHLO, HELO, STARTTLS, NOOP, RSET
// and QUIT, AUTH included, is answered "530 5.7.0" before TLS; where it is
// optional, AUTH in clear text gets "538 5.7.11". A failed AUTH is answered
// after a delay that grows with the failures of the client's address within
// the last minutes, across its connections ([AuthThrottle]). CHUNKING (RFC 3030) is
// not offered; a client that sends BDAT anyway is answered and disconnected,
// because the chunk that follows the command would otherwise be read as
// commands.
//
// # Line endings and SMTP smuggling
//
// RFC 5321 2.3.8 allows CR and LF only as the pair CRLF, and 4.1.1.4 ends
// the message only at CRLF "." CRLF. Servers that accepted other end-of-data
// sequences let an attacker hide a second message inside the first one and
// have it delivered, with the first message's authentication, by a
// downstream server that splits the stream differently (the 2023 SMTP
// smuggling attacks). This server rejects, it never normalises:
//
//   - Commands must end in CRLF; a command line with a bare CR or LF is
//     answered "500 5.5.2" and not executed.
//   - In DATA the only end of the message is CRLF "." CRLF. A bare CR or a
//     bare LF anywhere in the message makes the whole message fail: the rest
//     is read and discarded up to the real CRLF "." CRLF and the answer is
//     "550 5.5.2", so the session stays in step with the client.
//   - A line holding a single "." that starts or ends with a bare CR or LF
//     (<LF>.<LF>, <LF>.<CR><LF>, <CR><LF>.<LF>, <CR>.<CR>, <CR><LF>.<CR>
//     and the like) is an end-of-data that the client believes in and this
//     server does not. Nothing after it can be trusted to be message or
//     command, so the answer is "550 5.5.2" and the connection is closed
//     without reading further.
//
// This is Postfix's smtpd_forbid_bare_newline = reject, except that Postfix
// disconnects on every bare newline. No message containing a bare CR or LF
// reaches the spool, so nothing downstream can split one.
//
// Other protections: commands pipelined behind STARTTLS are discarded, never
// executed inside TLS (RFC 3207 4.2, CVE-2011-0411); EHLO, AUTH and the
// connection policy are reset after the handshake. Command lines are limited
// to 512 octets (MAIL to 1024, for the parameters of SIZE, BODY, SMTPUTF8
// and AUTH) and message lines to 1000 octets, both including CRLF (RFC 5321
// 4.5.3.1); longer lines get "500 5.5.2" and "550 5.5.2". Paths are parsed
// strictly (RFC 5321 4.1.2): no control characters, source routes accepted
// and dropped, "%", "!" and quoted "@" kept literally for the policy to see,
// non-ASCII only in a transaction whose MAIL carried SMTPUTF8 (RFC 6531).
//
// # Durability
//
// The message is streamed to [Spooler.Spool] as it arrives; nothing buffers
// it whole. "250" is written only after Spool returned a queue id, which it
// does only once the message is on disk and its job committed.
package smtpd
