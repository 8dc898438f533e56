package gateway

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/tidings/tidings/internal/message"
)

// storedEnvelope is message.Envelope as the queue keeps it (Message.Envelope):
// the connection facts flattened, the client certificate as DER.
type storedEnvelope struct {
	MailFrom    string
	Recipients  []string
	RemoteIP    string
	RemotePort  int    `json:",omitempty"`
	Helo        string `json:",omitempty"`
	TLS         string `json:",omitempty"`
	TLSCipher   string `json:",omitempty"`
	TLSWrapped  bool   `json:",omitempty"`
	AuthUser    string `json:",omitempty"`
	ReverseName string `json:",omitempty"`
	ClientCert  []byte `json:",omitempty"`
	// EightBit: the message has octets above 127 (BODY=8BITMIME when
	// relayed). SMTPUTF8: its envelope or header is UTF-8 (RFC 6531).
	EightBit bool `json:",omitempty"`
	SMTPUTF8 bool `json:",omitempty"`
}

// queued is a message as the jobs work with it.
type queued struct {
	*Message
	env      message.Envelope
	eightBit bool
	utf8     bool
	auth     *message.Auth // nil until verified
}

func encodeEnvelope(env *message.Envelope, eightBit, utf8 bool) []byte {
	se := storedEnvelope{
		MailFrom:    env.MailFrom,
		Recipients:  env.Recipients,
		RemotePort:  env.Conn.RemotePort,
		Helo:        env.Conn.Helo,
		TLS:         env.Conn.TLS,
		TLSCipher:   env.Conn.TLSCipher,
		TLSWrapped:  env.Conn.TLSWrapped,
		AuthUser:    env.Conn.AuthUser,
		ReverseName: env.Conn.ReverseName,
		EightBit:    eightBit,
		SMTPUTF8:    utf8,
	}
	if env.Conn.RemoteIP.IsValid() {
		se.RemoteIP = env.Conn.RemoteIP.String()
	}
	if env.Conn.ClientCert != nil {
		se.ClientCert = env.Conn.ClientCert.Raw
	}
	b, err := json.Marshal(se)
	if err != nil {
		panic(fmt.Sprintf("gateway: encode envelope: %v", err)) // plain data: a bug
	}
	return b
}

// load decodes what the jobs need of a message row.
func load(m *Message) (*queued, error) {
	var se storedEnvelope
	if err := json.Unmarshal(m.Envelope, &se); err != nil {
		return nil, fmt.Errorf("gateway: message %s: bad envelope: %w", m.QueueID, err)
	}
	q := &queued{Message: m, eightBit: se.EightBit, utf8: se.SMTPUTF8}
	q.env = message.Envelope{
		AccountID:      m.AccountID,
		IngressPointID: m.IngressPointID,
		QueueID:        m.QueueID,
		MailFrom:       se.MailFrom,
		Recipients:     se.Recipients,
		Size:           m.Size,
		ReceivedAt:     m.ReceivedAt,
		Conn: message.Conn{
			RemotePort:  se.RemotePort,
			Helo:        se.Helo,
			TLS:         se.TLS,
			TLSCipher:   se.TLSCipher,
			TLSWrapped:  se.TLSWrapped,
			AuthUser:    se.AuthUser,
			ReverseName: se.ReverseName,
		},
	}
	if se.RemoteIP != "" {
		ip, err := netip.ParseAddr(se.RemoteIP)
		if err == nil {
			q.env.Conn.RemoteIP = ip
		}
	}
	if len(se.ClientCert) > 0 {
		if c, err := x509.ParseCertificate(se.ClientCert); err == nil {
			q.env.Conn.ClientCert = c
		}
	}
	if len(m.Auth) > 0 {
		var a message.Auth
		if err := json.Unmarshal(m.Auth, &a); err != nil {
			return nil, fmt.Errorf("gateway: message %s: bad auth verdicts: %w", m.QueueID, err)
		}
		q.auth = &a
	}
	return q, nil
}

func encodeAuth(a message.Auth) []byte {
	b, err := json.Marshal(a)
	if err != nil {
		panic(fmt.Sprintf("gateway: encode auth: %v", err))
	}
	return b
}

// ms truncates t as the store keeps it.
func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
