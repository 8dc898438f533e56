package smpp

import (
	"sync"
	"time"
)

// Incoming is a mobile-originated message, reassembled if it came in parts.
type Incoming struct {
	Source               string
	SourceTON, SourceNPI byte
	Dest                 string
	DestTON, DestNPI     byte
	ServiceType          string
	DataCoding           byte
	// Text is the decoded text; empty for binary data codings.
	Text string
	// Data is the user data without headers, the parts joined: septets for
	// GSM-7 (unpacked), UTF-16BE octets for UCS-2, raw octets otherwise.
	Data  []byte
	Parts int
	// TLVs are the optional parameters of the last part received.
	TLVs TLVs
}

// inboundSM is a deliver_sm or data_sm reduced to what both carry.
type inboundSM struct {
	serviceType          string
	sourceTON, sourceNPI byte
	source               string
	destTON, destNPI     byte
	dest                 string
	esmClass, dataCoding byte
	ud                   []byte
	tlvs                 TLVs
}

func toInbound(p *PDU) (inboundSM, bool) {
	switch b := p.Body.(type) {
	case *ShortMessage:
		m := inboundSM{b.ServiceType, b.SourceTON, b.SourceNPI, b.Source, b.DestTON, b.DestNPI, b.Dest, b.ESMClass, b.DataCoding, b.ShortMessage, b.TLVs}
		if len(m.ud) == 0 {
			m.ud, _ = b.TLVs.Get(TagMessagePayload)
		}
		return m, true
	case *Data:
		m := inboundSM{b.ServiceType, b.SourceTON, b.SourceNPI, b.Source, b.DestTON, b.DestNPI, b.Dest, b.ESMClass, b.DataCoding, nil, b.TLVs}
		m.ud, _ = b.TLVs.Get(TagMessagePayload)
		return m, true
	}
	return inboundSM{}, false
}

// alphabet classifies a data_coding (5.2.19; the 0xF0 group from TS 23.038 4).
type alphabet int

const (
	alphaBinary alphabet = iota
	alphaGSM
	alphaLatin1
	alphaUCS2
)

func alphabetOf(dc byte) alphabet {
	switch {
	case dc == DataCodingDefault:
		return alphaGSM
	case dc == DataCodingIA5 || dc == DataCodingLatin1:
		return alphaLatin1
	case dc == DataCodingUCS2:
		return alphaUCS2
	case dc&0xF0 == 0xF0:
		if dc&0x04 == 0 {
			return alphaGSM
		}
	}
	return alphaBinary
}

// userData turns a part's user data (after any header of udhLen octets) into
// its canonical form: unpacked septets for GSM-7, octets otherwise.
func (c *Client) userData(dc byte, ud []byte, udhLen int) []byte {
	if alphabetOf(dc) == alphaGSM && c.cfg.GSMPacked {
		fill := (7 - (udhLen*8)%7) % 7
		all := UnpackSeptets(append(make([]byte, udhLen), ud...), 0)
		// Skip the septets the header and fill bits take.
		skip := (udhLen*8 + fill) / 7
		if skip > len(all) {
			return nil
		}
		return all[skip:]
	}
	return ud
}

func decodeText(dc byte, data []byte) string {
	switch alphabetOf(dc) {
	case alphaGSM:
		return DecodeGSM7(data)
	case alphaLatin1:
		return decodeLatin1(data)
	case alphaUCS2:
		return DecodeUCS2(data)
	}
	return ""
}

// handleInbound hands a deliver_sm or data_sm to the callbacks and returns
// the command_status to answer with.
func (c *Client) handleInbound(p *PDU) Status {
	m, ok := toInbound(p)
	if !ok {
		return StatusSysErr
	}
	udhLen := 0
	var ci *concatInfo
	ud := m.ud
	if m.esmClass&ESMClassUDHI != 0 {
		udh, rest, info, err := parseUDH(m.ud)
		if err != nil {
			c.log.Warn("smpp: inbound message with a bad header", "source", m.source, "err", err)
			return StatusInvEsmClass
		}
		udhLen, ud, ci = len(udh), rest, info
	}
	typ := m.esmClass & ESMClassTypeMask
	if typ == ESMClassDeliveryReceipt || typ == ESMClassIntermediate {
		return c.receipt(m, decodeText(m.dataCoding, c.userData(m.dataCoding, ud, udhLen)), typ == ESMClassIntermediate)
	}
	if ci == nil {
		ref, okRef := m.tlvs.Uint(TagSARMsgRefNum, 2)
		total, okTotal := m.tlvs.Uint(TagSARTotalSegments, 1)
		seq, okSeq := m.tlvs.Uint(TagSARSegmentSeqnum, 1)
		if okRef && okTotal && okSeq && total > 0 && seq > 0 && seq <= total {
			ci = &concatInfo{ref: uint16(ref), total: int(total), seq: int(seq)}
		}
	}
	data := c.userData(m.dataCoding, ud, udhLen)
	parts := 1
	if ci != nil && ci.total > 1 {
		whole, complete := c.mo.add(m, ci, data)
		if !complete {
			return StatusOK
		}
		data, parts = whole, ci.total
	}
	in := Incoming{
		Source: m.source, SourceTON: m.sourceTON, SourceNPI: m.sourceNPI,
		Dest: m.dest, DestTON: m.destTON, DestNPI: m.destNPI,
		ServiceType: m.serviceType, DataCoding: m.dataCoding,
		Text: decodeText(m.dataCoding, data), Data: data, Parts: parts, TLVs: m.tlvs,
	}
	if c.cfg.OnMessage == nil {
		c.log.Info("smpp: inbound message dropped: no OnMessage", "source", m.source)
		return StatusOK
	}
	if err := c.cfg.OnMessage(c.ctx, in); err != nil {
		c.log.Warn("smpp: OnMessage", "source", m.source, "err", err)
		return StatusXTAppn
	}
	return StatusOK
}

func (c *Client) receipt(m inboundSM, text string, intermediate bool) Status {
	r, _ := ParseReceiptText(text)
	r.Raw = text
	r.Intermediate = intermediate
	r.Source, r.Dest = m.source, m.dest
	// 5.3.2.12, 5.3.2.35: the parameters, when present, are authoritative.
	if id, ok := m.tlvs.CString(TagReceiptedMessageID); ok && id != "" {
		r.MessageID = id
	}
	if st, ok := m.tlvs.Uint(TagMessageState, 1); ok {
		r.State = MessageState(st)
	}
	if v, ok := m.tlvs.Get(TagNetworkErrorCode); ok && len(v) == 3 {
		r.NetworkError = &NetworkError{Type: v[0], Code: uint16(v[1])<<8 | uint16(v[2])}
	}
	if r.MessageID == "" {
		c.log.Warn("smpp: receipt without a message id", "text", text)
	}
	if c.cfg.OnReceipt == nil {
		return StatusOK
	}
	if err := c.cfg.OnReceipt(c.ctx, r); err != nil {
		c.log.Warn("smpp: OnReceipt", "message_id", r.MessageID, "err", err)
		return StatusXTAppn
	}
	return StatusOK
}

// reassembler joins the parts of concatenated inbound messages. Parts are
// acknowledged as they come; a message whose parts do not all arrive within
// the timeout is dropped. It holds at most maxPending messages, dropping the
// oldest beyond that, so a misbehaving peer cannot grow it without bound.
type reassembler struct {
	mu      sync.Mutex
	timeout time.Duration
	pending map[reassemblyKey]*partial
}

const maxPending = 1000

type reassemblyKey struct {
	source, dest string
	ref          uint16
	total        int
}

type partial struct {
	first time.Time
	parts [][]byte
	have  int
}

func newReassembler(timeout time.Duration) *reassembler {
	return &reassembler{timeout: timeout, pending: map[reassemblyKey]*partial{}}
}

// add stores a part and returns the whole message once every part is in.
func (r *reassembler) add(m inboundSM, ci *concatInfo, data []byte) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	var oldestKey reassemblyKey
	var oldest time.Time
	for k, p := range r.pending {
		if now.Sub(p.first) > r.timeout {
			delete(r.pending, k)
		} else if oldest.IsZero() || p.first.Before(oldest) {
			oldest, oldestKey = p.first, k
		}
	}
	key := reassemblyKey{m.source, m.dest, ci.ref, ci.total}
	p, ok := r.pending[key]
	if !ok {
		if len(r.pending) >= maxPending {
			delete(r.pending, oldestKey)
		}
		p = &partial{first: now, parts: make([][]byte, ci.total)}
		r.pending[key] = p
	}
	if p.parts[ci.seq-1] == nil {
		p.have++
	}
	p.parts[ci.seq-1] = append([]byte{}, data...)
	if p.have < ci.total {
		return nil, false
	}
	delete(r.pending, key)
	var whole []byte
	for _, part := range p.parts {
		whole = append(whole, part...)
	}
	return whole, true
}
