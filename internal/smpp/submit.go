package smpp

import (
	"context"
	"errors"
	"fmt"
)

// Message is a text message to submit.
type Message struct {
	Source               string
	SourceTON, SourceNPI byte
	Dest                 string
	DestTON, DestNPI     byte
	Text                 string
	// Encoding is GSM-7, UCS-2, or EncodingAuto (GSM-7 when the text allows).
	Encoding Encoding
	// RegisteredDelivery asks for receipts (RegisteredDeliveryAlways, ...).
	RegisteredDelivery byte
	ServiceType        string
	ProtocolID         byte
	PriorityFlag       byte
	// ValidityPeriod is in the format of 7.1.1 (absolute or relative), or
	// empty for the SMSC's default.
	ValidityPeriod string
	// TLVs are added to every part.
	TLVs TLVs
}

// SubmitResult is the outcome of a Submit.
type SubmitResult struct {
	Encoding Encoding
	// MessageIDs holds the SMSC's message_id per part, in order; the id of a
	// part that failed is empty.
	MessageIDs []string
}

// Submit sends msg as one submit_sm, or as one per part of a concatenated
// message, each through the window and the rate limit. It waits for the
// client to be bound, until ctx ends. On error the result holds the ids of
// the parts that were accepted; IsRetryable tells whether to try again.
func (c *Client) Submit(ctx context.Context, msg Message) (SubmitResult, error) {
	if c.cfg.BindMode == Receiver {
		return SubmitResult{}, errors.New("smpp: a receiver bind cannot submit")
	}
	pdus, enc, err := c.buildSubmits(msg)
	if err != nil {
		return SubmitResult{}, err
	}
	res := SubmitResult{Encoding: enc, MessageIDs: make([]string, len(pdus))}
	calls := make([]*call, len(pdus))
	var firstErr error
	for i, p := range pdus {
		calls[i], err = c.send(ctx, p)
		if err != nil {
			firstErr = err
			break
		}
	}
	for i, cl := range calls {
		if cl == nil {
			break
		}
		resp, err := cl.wait(ctx)
		if err != nil && ctx.Err() != nil {
			// Sent but unanswered: the SMSC may have taken it, as after a
			// response timeout.
			err = fmt.Errorf("%w: %w", ErrResponseTimeout, err)
		}
		if err == nil {
			err = submitError(resp)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if body, ok := resp.Body.(*MessageResp); ok {
			res.MessageIDs[i] = body.MessageID
		}
	}
	return res, firstErr
}

func submitError(resp *PDU) error {
	if resp.Command == GenericNack || resp.Status != StatusOK {
		return &StatusError{Command: SubmitSM, Status: resp.Status}
	}
	if resp.Command != SubmitSMResp {
		return fmt.Errorf("smpp: submit_sm answered with %s", resp.Command)
	}
	if _, ok := resp.Body.(*MessageResp); !ok {
		return errors.New("smpp: submit_sm_resp without a message_id")
	}
	return nil
}

// send takes a window slot, waits for the rate limit and a bound session,
// and sends p.
func (c *Client) send(ctx context.Context, p *PDU) (*call, error) {
	select {
	case c.window <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the window: %w", ErrNotBound, ctx.Err())
	case <-c.closed:
		return nil, ErrClosed
	}
	release := func() { <-c.window }
	select {
	case <-c.closed:
		release()
		return nil, ErrClosed
	default:
	}
	if err := c.limiter.Wait(ctx); err != nil {
		release()
		return nil, fmt.Errorf("%w: waiting for the rate limit: %w", ErrNotBound, err)
	}
	s, err := c.session(ctx)
	if err != nil {
		release()
		return nil, err
	}
	return s.start(p, release)
}

// buildSubmits encodes msg as submit_sm PDUs, one per part.
func (c *Client) buildSubmits(msg Message) ([]*PDU, Encoding, error) {
	enc := msg.Encoding
	if enc == EncodingAuto {
		enc = EncodingUCS2
		if IsGSM7(msg.Text) {
			enc = EncodingGSM7
		}
	}
	parts, err := SplitText(msg.Text, enc)
	if err != nil {
		return nil, enc, err
	}
	if len(parts) > 255 {
		return nil, enc, fmt.Errorf("smpp: message of %d parts; at most 255 can be concatenated", len(parts))
	}
	var ref byte
	if len(parts) > 1 {
		ref = byte(c.ref.Add(1))
	}
	pdus := make([]*PDU, len(parts))
	for i, text := range parts {
		sm := &ShortMessage{
			ServiceType:        msg.ServiceType,
			SourceTON:          msg.SourceTON,
			SourceNPI:          msg.SourceNPI,
			Source:             msg.Source,
			DestTON:            msg.DestTON,
			DestNPI:            msg.DestNPI,
			Dest:               msg.Dest,
			ProtocolID:         msg.ProtocolID,
			PriorityFlag:       msg.PriorityFlag,
			ValidityPeriod:     msg.ValidityPeriod,
			RegisteredDelivery: msg.RegisteredDelivery,
			TLVs:               append(TLVs(nil), msg.TLVs...),
		}
		var udh []byte
		if len(parts) > 1 {
			switch c.cfg.Concat {
			case ConcatSAR:
				sm.TLVs.SetUint(TagSARMsgRefNum, 2, uint32(ref))
				sm.TLVs.SetUint(TagSARTotalSegments, 1, uint32(len(parts)))
				sm.TLVs.SetUint(TagSARSegmentSeqnum, 1, uint32(i+1))
			default:
				udh = concatUDH(ref, len(parts), i+1)
				sm.ESMClass |= ESMClassUDHI
			}
		}
		switch enc {
		case EncodingGSM7:
			sm.DataCoding = DataCodingDefault
			septets, _ := EncodeGSM7(text)
			if c.cfg.GSMPacked {
				// TS 23.040 9.2.3.24: fill bits align the text on a septet
				// boundary after the header.
				fill := (7 - (len(udh)*8)%7) % 7
				septets = PackSeptets(septets, fill)
			}
			sm.ShortMessage = append(udh, septets...)
		case EncodingUCS2:
			sm.DataCoding = DataCodingUCS2
			sm.ShortMessage = append(udh, EncodeUCS2(text)...)
		}
		pdus[i] = &PDU{Command: SubmitSM, Body: sm}
		// Catch fields over their limits now, not on the wire.
		if _, err := pdus[i].Encode(); err != nil {
			return nil, enc, err
		}
	}
	return pdus, enc, nil
}
