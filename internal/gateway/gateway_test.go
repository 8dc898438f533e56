package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/gateway"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

const body = "From: Alice <alice@sender.test>\r\n" +
	"To: Bob <bob@corp.test>\r\n" +
	"Subject: quarterly numbers\r\n" +
	"Message-ID: <1@sender.test>\r\n" +
	"\r\n" +
	"Hello Bob,\r\n.. a line that starts with a dot\r\nbye\r\n"

// TestRelayEndToEnd is scenarios 1 and 2: an open ingress point whose rule
// set adds a header, archives and relays with MAIL FROM preserved. The
// message arrives at the relay target with the added header, this
// gateway's Authentication-Results, and one X-Mail-Manager-Originator-Org
// naming the relay — the forged ones the sender put in (any case, folded)
// are gone, and so is a forged Authentication-Results in our name.
func TestRelayEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	relay := b.relay("onprem", b.sink)
	archive := b.archive("everything")
	rs := b.ruleSet("inbound", fmt.Sprintf(`[{"Name":"tag-archive-relay","Actions":[
		{"AddHeader":{"HeaderName":"X-Tidings-Gateway","HeaderValue":"checked"}},
		{"Archive":{"TargetArchive":"everything"}},
		{"Relay":{"Relay":%q,"MailFrom":"PRESERVE"}}]}]`, relay))
	_, addr := b.ingressPoint("inbound-mx", "OPEN", rs, b.allowAll(), "")

	forged := "X-Mail-Manager-Originator-Org: rl-evil\r\n" +
		"x-mail-manager-originator-org:\r\n\trl-folded-evil\r\n" +
		"Authentication-Results: " + hostname + "; spf=pass smtp.mailfrom=ceo@corp.test\r\n" +
		"Authentication-Results: upstream.example; dkim=pass\r\n"
	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test", "carol@corp.test"}, forged+body)
	require.NoError(t, err)
	require.True(t, gateway.ValidQueueID(qid), qid)

	got := b.sink.wait(t, 1)
	require.Len(t, got, 1, "one transaction for both recipients")
	m := got[0]
	require.Equal(t, "alice@sender.test", m.from, "MAIL FROM preserved")
	require.ElementsMatch(t, []string{"bob@corp.test", "carol@corp.test"}, m.to)
	require.Equal(t, []string{relay}, headerValues(m.data, gateway.OriginatorHeader), "originator header replaced")
	require.Equal(t, []string{"checked"}, headerValues(m.data, "X-Tidings-Gateway"))
	ar := headerValues(m.data, "Authentication-Results")
	require.Len(t, ar, 2, "ours and the upstream one: %q", ar)
	require.True(t, strings.HasPrefix(ar[0], hostname+";"), ar[0])
	require.Contains(t, ar[0], "spf=")
	require.NotContains(t, ar[0], "ceo@corp.test")
	require.Equal(t, "upstream.example; dkim=pass", ar[1])
	require.Len(t, headerValues(m.data, "Received"), 1)
	for _, f := range []string{"ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"} {
		require.Empty(t, headerValues(m.data, f), "no ARC sealing configured, no %s", f)
	}
	require.True(t, bytes.HasSuffix(m.data, []byte("\r\n\r\nHello Bob,\r\n.. a line that starts with a dot\r\nbye\r\n")), "body intact:\n%s", m.data)

	d := b.waitState(qid, gateway.Done)
	require.Len(t, d.Steps, 3)
	for _, s := range d.Steps {
		require.Equal(t, gateway.StepDone, s.State, "%+v", s)
	}
	require.Len(t, d.Deliveries, 2)
	for _, dl := range d.Deliveries {
		require.Equal(t, gateway.DeliveryDelivered, dl.State)
		require.Equal(t, 1, dl.Attempts)
		require.Contains(t, dl.LastReply, "250")
	}
	require.NotNil(t, d.Auth)
	require.Empty(t, d.BlobKey, "spooled copy released")
	_, _, err = b.blobs.Get(context.Background(), "spool/"+d.ReceivedAt.Format("2006/01/02")+"/"+qid)
	require.Error(t, err, "spooled copy deleted")

	// The archive got the message as the client sent it, with only the
	// header the rule added before the Archive step on top: no Received
	// or Authentication-Results of ours (they are metadata), nothing the
	// sender wrote removed.
	a := b.archiver.archived()
	require.Len(t, a, 1)
	require.Equal(t, archive, a[0].archive)
	require.Equal(t, acct, a[0].account)
	require.Equal(t, qid, a[0].env.QueueID)
	require.Equal(t, "X-Tidings-Gateway: checked\r\n"+forged+body, string(a[0].raw))
}

// TestJournaling is scenario 4: the traffic policy denies by default and
// admits only the journaling address; a rule archives everything.
func TestJournaling(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.archive("journal-short")
	policy := b.trafficPolicy(`{"TrafficPolicyName":"journal-only","DefaultAction":"DENY","PolicyStatements":[
		{"Action":"ALLOW","Conditions":[{"StringExpression":{"Evaluate":{"Attribute":"RECIPIENT"},
		 "Operator":"EQUALS","Values":["journal@corp.test"]}}]}]}`)
	rs := b.ruleSet("journal", `[{"Name":"journal-all","Actions":[{"Archive":{"TargetArchive":"journal-short"}}]}]`)
	_, addr := b.ingressPoint("journal-in", "OPEN", rs, policy, "")

	_, err := send(t, addr, "exchange@corp.test", []string{"someone@corp.test"}, body)
	require.Equal(t, 550, smtpCode(err), "%v", err)
	var se *smtp.SMTPError
	require.ErrorAs(t, err, &se)
	require.Equal(t, smtp.EnhancedCode{5, 7, 1}, se.EnhancedCode)
	// Address tricks do not get through either.
	for _, r := range []string{"journal%corp.test@evil.test", "\"journal@corp.test\"@evil.test", "journal@corp.test@evil.test"} {
		_, err := send(t, addr, "exchange@corp.test", []string{r}, body)
		require.Error(t, err, r)
		require.GreaterOrEqual(t, smtpCode(err), 500, "%s: %v", r, err)
	}

	qid, err := send(t, addr, "exchange@corp.test", []string{"JOURNAL@corp.test"}, body)
	require.NoError(t, err)
	d := b.waitState(qid, gateway.Done)
	require.Len(t, d.Steps, 1)
	require.Equal(t, gateway.StepDone, d.Steps[0].State, d.Steps[0].Error)
	eventually(t, 10*time.Second, func() bool { return len(b.archiver.archived()) == 1 }, "archived")
	a := b.archiver.archived()[0]
	require.Equal(t, []string{"JOURNAL@corp.test"}, a.env.Recipients)
	require.Empty(t, headerValues(a.raw, "Received"), "the archive keeps the message as sent")
}

// TestArchiveUnavailable: without an archive service the Archive step
// fails visibly, and ActionFailurePolicy DROP keeps the later relay from
// running for that recipient, while CONTINUE (the default) does not.
func TestArchiveUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noArchiver: true})
	b.archive("a1")
	relay := b.relay("r1", b.sink)
	rs := b.ruleSet("rs", fmt.Sprintf(`[
		{"Name":"drop-on-failure","Conditions":[{"StringExpression":{"Evaluate":{"Attribute":"RECIPIENT"},"Operator":"STARTS_WITH","Values":["strict"]}}],
		 "Actions":[{"Archive":{"TargetArchive":"a1","ActionFailurePolicy":"DROP"}}]},
		{"Name":"continue","Conditions":[{"StringExpression":{"Evaluate":{"Attribute":"RECIPIENT"},"Operator":"STARTS_WITH","Values":["lax"]}}],
		 "Actions":[{"Archive":{"TargetArchive":"a1"}}]},
		{"Name":"relay","Actions":[{"Relay":{"Relay":%q}}, {"DeliverToQBusiness":{"ApplicationId":"a1b2c3d4-0000-0000-0000-000000000000","IndexId":"a1b2c3d4-0000-0000-0000-000000000000","RoleArn":"arn:aws:iam::111122223333:role/x"}}]}]`, relay))
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")

	qid, err := send(t, addr, "alice@sender.test", []string{"strict@corp.test", "lax@corp.test"}, body)
	require.NoError(t, err)
	got := b.sink.wait(t, 1)
	require.Equal(t, []string{"lax@corp.test"}, got[0].to)
	d := b.waitState(qid, gateway.Done)
	states := map[string]gateway.Step{}
	for _, s := range d.Steps {
		states[s.RuleName+"/"+s.Action] = s
	}
	require.Equal(t, gateway.StepFailed, states["drop-on-failure/Archive"].State)
	require.Contains(t, states["drop-on-failure/Archive"].Error, "archive not available")
	require.Equal(t, gateway.StepFailed, states["continue/Archive"].State)
	require.Equal(t, gateway.StepDone, states["relay/Relay"].State)
	require.Equal(t, []string{"lax@corp.test"}, states["relay/Relay"].Recipients)
	require.Equal(t, gateway.StepFailed, states["relay/DeliverToQBusiness"].State)
	require.Contains(t, states["relay/DeliverToQBusiness"].Error, "cannot run on Tidings")
}

// TestRelayRetry: the relay target answers 451 to the first attempt; the
// delivery is deferred with its next attempt, then retried and delivered.
func TestRelayRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var calls atomic.Int32
	b.sink.setRcpt(func(string) error {
		if calls.Add(1) == 1 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	})
	relay := b.relay("flaky", b.sink)
	rs := b.ruleSet("rs", fmt.Sprintf(`[{"Actions":[{"Relay":{"Relay":%q}}]}]`, relay))
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
	require.NoError(t, err)

	eventually(t, 30*time.Second, func() bool {
		d, err := b.gw.Queue().Show(context.Background(), qid)
		require.NoError(t, err)
		return len(d.Deliveries) == 1 && d.Deliveries[0].Attempts >= 1
	}, "first attempt")
	b.sink.wait(t, 1)
	d := b.waitState(qid, gateway.Done)
	require.Equal(t, gateway.DeliveryDelivered, d.Deliveries[0].State)
	require.Equal(t, 2, d.Deliveries[0].Attempts)
	require.Empty(t, b.dsnSink.messages(), "no DSN for a delivered message")
}

// TestPermanentFailureDSN: a 550 from the relay target fails the recipient
// and a DSN goes to the envelope sender, through its domain's MX, from the
// null sender; a message from the null sender gets none.
func TestPermanentFailureDSN(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sink.setRcpt(func(to string) error {
		if strings.HasPrefix(to, "nobody") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	})
	relay := b.relay("r", b.sink)
	rs := b.ruleSet("rs", fmt.Sprintf(`[{"Actions":[{"Relay":{"Relay":%q}}]}]`, relay))
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")

	qid, err := send(t, addr, "alice@"+senderDomain, []string{"nobody@corp.test", "bob@corp.test"}, body)
	require.NoError(t, err)
	got := b.sink.wait(t, 1)
	require.Equal(t, []string{"bob@corp.test"}, got[0].to)

	dsns := b.dsnSink.wait(t, 1)
	require.Equal(t, "", dsns[0].from, "DSN from the null sender")
	require.Equal(t, []string{"alice@" + senderDomain}, dsns[0].to)
	require.Contains(t, string(dsns[0].data), "multipart/report")
	require.Contains(t, string(dsns[0].data), "Final-Recipient: rfc822; nobody@corp.test")
	require.Contains(t, string(dsns[0].data), "Status: 5.1.1")
	require.Contains(t, string(dsns[0].data), "Subject: quarterly numbers", "original header attached")

	d := b.waitState(qid, gateway.Done)
	byRcpt := map[string]gateway.Delivery{}
	for _, dl := range d.Deliveries {
		byRcpt[dl.Recipient] = dl
	}
	require.Equal(t, gateway.DeliveryFailed, byRcpt["nobody@corp.test"].State)
	require.Contains(t, byRcpt["nobody@corp.test"].LastReply, "550 5.1.1")
	require.True(t, strings.HasPrefix(byRcpt["nobody@corp.test"].DSN, "sent "), byRcpt["nobody@corp.test"].DSN)
	require.Equal(t, gateway.DeliveryDelivered, byRcpt["bob@corp.test"].State)

	// The null sender: failed, recorded, no notification.
	qid, err = send(t, addr, "", []string{"nobody@corp.test"}, body)
	require.NoError(t, err)
	d = b.waitState(qid, gateway.Done)
	require.Equal(t, gateway.DeliveryFailed, d.Deliveries[0].State)
	require.Contains(t, d.Deliveries[0].DSN, "null sender")
	require.Len(t, b.dsnSink.messages(), 1)
}

// TestBounceAction: a Bounce rule returns the message with its codes.
func TestBounceAction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rs := b.ruleSet("rs", `[{"Actions":[{"Bounce":{"RoleArn":"arn:aws:iam::111122223333:role/x",
		"Sender":"postmaster@corp.test","SmtpReplyCode":"550","StatusCode":"5.7.1",
		"DiagnosticMessage":"Mailbox closed","Message":"This mailbox is closed."}}]}]`)
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	qid, err := send(t, addr, "alice@"+senderDomain, []string{"gone@corp.test"}, body)
	require.NoError(t, err)
	dsns := b.dsnSink.wait(t, 1)
	s := string(dsns[0].data)
	require.True(t, strings.HasPrefix(s, "From: <postmaster@corp.test>\r\n"), s)
	require.Contains(t, s, "Status: 5.7.1")
	require.Contains(t, s, "Diagnostic-Code: smtp; 550 5.7.1 Mailbox closed")
	require.Contains(t, s, "This mailbox is closed.")
	d := b.waitState(qid, gateway.Done)
	require.Equal(t, gateway.DeliveryBounced, d.Deliveries[0].State)
}

// TestMailboxAndS3: DeliverToMailbox writes a Maildir file, WriteToS3 a
// blob under s3/<bucket>/<prefix>/.
func TestMailboxAndS3(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rs := b.ruleSet("rs", `[{"Actions":[
		{"DeliverToMailbox":{"MailboxArn":"arn:aws:workmail:us-east-1:111122223333:organization/m-123","RoleArn":"arn:aws:iam::111122223333:role/x"}},
		{"WriteToS3":{"S3Bucket":"mail-bucket","S3Prefix":"in/2026/","RoleArn":"arn:aws:iam::111122223333:role/x"}}]}]`)
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
	require.NoError(t, err)
	d := b.waitState(qid, gateway.Done)
	for _, s := range d.Steps {
		require.Equal(t, gateway.StepDone, s.State, "%s: %s", s.Action, s.Error)
	}
	rc, _, err := b.blobs.Get(context.Background(), "s3/mail-bucket/in/2026/"+qid+".eml")
	require.NoError(t, err)
	rc.Close()
	require.Contains(t, d.Steps[0].Detail, "/"+acct+"/m-123/new/")
}

// TestCrashResume: the process job dies in the middle of its steps (here:
// its context ends right after the archive stored the message, before the
// step was recorded, as a SIGKILL would leave it), with its claim on the
// message still held. On restart Recover releases the claim and queues the
// work; the re-run skips the steps already done — the relay is not
// repeated — and finishes the rest.
func TestCrashResume(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noJobs: true})
	relay := b.relay("r", b.sink)
	b.archive("a1")
	rs := b.ruleSet("rs", fmt.Sprintf(`[{"Actions":[
		{"AddHeader":{"HeaderName":"X-Step","HeaderValue":"one"}},
		{"Relay":{"Relay":%q}},
		{"Archive":{"TargetArchive":"a1"}}]}]`, relay))
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
	require.NoError(t, err)

	// The first run "crashes" inside the archive step.
	ctx, crash := context.WithCancel(context.Background())
	b.archiver.hook = func(context.Context) { crash() }
	err = b.gw.Process(ctx, qid)
	require.Error(t, err)
	b.archiver.hook = nil
	d, err := b.gw.Queue().Show(context.Background(), qid)
	require.NoError(t, err)
	require.Equal(t, gateway.Queued, d.State)
	require.Equal(t, []gateway.StepState{gateway.StepDone, gateway.StepDone, gateway.StepPending},
		[]gateway.StepState{d.Steps[0].State, d.Steps[1].State, d.Steps[2].State})
	require.Len(t, d.Deliveries, 1)

	// A dead worker's claim, as SIGKILL leaves it.
	require.NoError(t, b.db.Gateway().InTx(context.Background(), func(tx gateway.Tx) error {
		ok, err := tx.ClaimMessage(context.Background(), qid, "dead-worker", time.Now(), time.Now().Add(time.Hour))
		require.True(t, ok)
		return err
	}))
	n, err := b.gw.Recover(context.Background(), true)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the message, and the relay whose first attempt the dead run owed")

	b.startJobs()
	d = b.waitState(qid, gateway.Done)
	for _, s := range d.Steps {
		require.Equal(t, gateway.StepDone, s.State, "%s: %s", s.Action, s.Error)
	}
	got := b.sink.wait(t, 1)
	require.Equal(t, []string{"one"}, headerValues(got[0].data, "X-Step"))
	// At least once for the step in progress at the crash, exactly once
	// for the steps finished before it.
	require.Len(t, b.archiver.archived(), 2)
	require.Len(t, b.sink.messages(), 1, "the relay was not repeated")
}

// TestRecoverOwnClaimsOnly: on a shared database a restarted node takes
// back the claims its previous process held, and leaves other nodes'.
func TestRecoverOwnClaimsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noJobs: true, nodeID: "node-a"})
	relay := b.relay("r", b.sink)
	rs := b.ruleSet("rs", fmt.Sprintf(`[{"Actions":[{"Relay":{"Relay":%q}}]}]`, relay))
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	claim := func(owner string) string {
		qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
		require.NoError(t, err)
		require.NoError(t, b.db.Gateway().InTx(context.Background(), func(tx gateway.Tx) error {
			ok, err := tx.ClaimMessage(context.Background(), qid, owner, time.Now(), time.Now().Add(time.Hour))
			require.True(t, ok)
			return err
		}))
		return qid
	}
	mine, theirs, similar := claim("node-a/0123"), claim("node-b/0123"), claim("node-ab/0123")
	n, err := b.gw.Recover(context.Background(), false)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only node-a's claim")
	for qid, leased := range map[string]bool{mine: false, theirs: true, similar: true} {
		m, err := b.db.Gateway().GetMessage(context.Background(), qid)
		require.NoError(t, err)
		require.Equal(t, leased, m.LeaseOwner != "", "%s owned by %q", qid, m.LeaseOwner)
	}
	b.startJobs()
	b.waitState(mine, gateway.Done)
}

// TestListenerLifecycle: CLOSED answers 421, a TLS policy change takes
// effect for new connections, deletion closes the port.
func TestListenerLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rs := b.ruleSet("rs", `[{"Actions":[{"Drop":{}}]}]`)
	id, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")

	greeting := func() string {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return "refused"
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 512)
		n, _ := c.Read(buf)
		return string(buf[:n])
	}
	require.True(t, strings.HasPrefix(greeting(), "220 "+hostname))

	update := func(body string) {
		_, err := b.mail.UpdateIngressPoint(b.ctx, decode[mm.UpdateIngressPointRequest](t, fmt.Sprintf(`{"IngressPointId":%q,%s}`, id, body)))
		require.NoError(t, err)
		b.gw.Kick()
	}
	update(`"StatusToUpdate":"CLOSED"`)
	eventually(t, 10*time.Second, func() bool { return strings.HasPrefix(greeting(), "421 ") }, "421 when CLOSED")
	update(`"StatusToUpdate":"ACTIVE"`)
	eventually(t, 10*time.Second, func() bool { return strings.HasPrefix(greeting(), "220 ") }, "220 when ACTIVE")

	// A session open across a settings change is not dropped.
	c, err := smtp.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("client.test"))
	update(`"TlsPolicy":"REQUIRED"`)
	eventually(t, 10*time.Second, func() bool {
		_, err := send(t, addr, "a@sender.test", []string{"b@corp.test"}, body)
		return smtpCode(err) == 530
	}, "530 before STARTTLS")
	require.NoError(t, c.Mail("a@sender.test", nil), "the old session goes on")
	require.NoError(t, c.Quit())

	_, err = b.mail.DeleteIngressPoint(b.ctx, decode[mm.DeleteIngressPointRequest](t, fmt.Sprintf(`{"IngressPointId":%q}`, id)))
	require.NoError(t, err)
	b.gw.Kick()
	eventually(t, 10*time.Second, func() bool { return greeting() == "refused" }, "port closed")
}

// TestAuthIngressPoint: AUTH inside TLS with the ingress point's password.
func TestAuthIngressPoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	relay := b.relay("r", b.sink)
	rs := b.ruleSet("rs", fmt.Sprintf(`[{"Actions":[{"Relay":{"Relay":%q}}]}]`, relay))
	_, addr := b.ingressPoint("sub", "AUTH", rs, b.allowAll(),
		`,"TlsPolicy":"REQUIRED","IngressPointConfiguration":{"SmtpPassword":"correct horse battery staple"}`)

	try := func(pass string) error {
		c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
		require.NoError(t, err)
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", "app", pass)); err != nil {
			return err
		}
		if err := c.Mail("app@sender.test", nil); err != nil {
			return err
		}
		if err := c.Rcpt("bob@corp.test", nil); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		w.Write([]byte(body))
		return w.Close()
	}
	err := try("wrong")
	require.Equal(t, 535, smtpCode(err), "%v", err)
	require.NoError(t, try("correct horse battery staple"))
	got := b.sink.wait(t, 1)
	require.Contains(t, string(got[0].data), "smtp.auth=app")
}

// TestQueueRetryAndDelete: `tidings queue retry` makes deferred deliveries
// due at once; `delete` removes the message.
func TestQueueRetryAndDelete(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{retry: deliveryHour()})
	var fail atomic.Bool
	fail.Store(true)
	b.sink.setRcpt(func(string) error {
		if fail.Load() {
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 5}, Message: "busy"}
		}
		return nil
	})
	relay := b.relay("r", b.sink)
	rs := b.ruleSet("rs", fmt.Sprintf(`[{"Actions":[{"Relay":{"Relay":%q}}]}]`, relay))
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
	require.NoError(t, err)
	eventually(t, 30*time.Second, func() bool {
		l, err := b.gw.Queue().List(context.Background(), gateway.ListFilter{Deferred: true})
		require.NoError(t, err)
		return len(l) == 1 && l[0].QueueID == qid
	}, "deferred")
	d, err := b.gw.Queue().Show(context.Background(), qid)
	require.NoError(t, err)
	require.Equal(t, gateway.DeliveryDeferred, d.Deliveries[0].State)
	require.True(t, d.Deliveries[0].NextAttemptAt.After(time.Now().Add(30*time.Minute)), "next attempt an hour away")
	require.Contains(t, d.Deliveries[0].LastReply, "421")

	fail.Store(false)
	n, err := b.gw.Queue().Retry(context.Background(), qid)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	b.sink.wait(t, 1)
	b.waitState(qid, gateway.Done)

	// Delete.
	fail.Store(true)
	qid, err = send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
	require.NoError(t, err)
	b.waitState(qid, gateway.Active)
	require.NoError(t, b.gw.Queue().Delete(context.Background(), qid))
	_, err = b.gw.Queue().Show(context.Background(), qid)
	require.Error(t, err)
}

func deliveryHour() delivery.RetryPolicy {
	return delivery.RetryPolicy{First: time.Hour, Max: time.Hour, GiveUpAfter: 5 * 24 * time.Hour}
}

// TestPublishToSns: the action publishes SES's "Received" notification,
// with the headers or the whole message, to the topic.
func TestPublishToSns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	topic := "arn:aws:sns:us-east-1:" + acct + ":inbound"
	rs := b.ruleSet("rs", fmt.Sprintf(`[{"Actions":[
		{"AddHeader":{"HeaderName":"X-Seen","HeaderValue":"yes"}},
		{"PublishToSns":{"TopicArn":%q,"RoleArn":"arn:aws:iam::%s:role/r"}},
		{"PublishToSns":{"TopicArn":%q,"RoleArn":"arn:aws:iam::%s:role/r","PayloadType":"CONTENT","Encoding":"BASE64"}}]}]`,
		topic, acct, topic, acct))
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
	require.NoError(t, err)
	b.waitState(qid, gateway.Done)
	got := b.pub.published()
	require.Len(t, got, 2)
	for i, p := range got {
		require.Equal(t, acct, p.account)
		require.Equal(t, topic, p.topic)
		require.Equal(t, fmt.Sprintf("%s/%d", qid, i+1), p.key)
		var n struct {
			NotificationType string
			Mail             struct {
				Source        string
				MessageID     string
				Destination   []string
				Headers       []struct{ Name, Value string }
				CommonHeaders map[string]any
			}
			Receipt struct {
				Recipients []string
				Action     map[string]string
			}
			Content *string
		}
		require.NoError(t, json.Unmarshal(p.body, &n), "%s", p.body)
		require.Equal(t, "Received", n.NotificationType)
		require.Equal(t, "alice@sender.test", n.Mail.Source)
		require.Equal(t, qid, n.Mail.MessageID)
		require.Equal(t, []string{"bob@corp.test"}, n.Mail.Destination)
		require.Equal(t, []string{"bob@corp.test"}, n.Receipt.Recipients)
		require.NotEmpty(t, n.Mail.CommonHeaders["subject"])
		var names []string
		for _, h := range n.Mail.Headers {
			names = append(names, h.Name)
		}
		require.Contains(t, names, "X-Seen", "headers added before the action are in the notification")
		if i == 0 {
			require.Nil(t, n.Content)
			require.Equal(t, "UTF-8", n.Receipt.Action["encoding"])
		} else {
			require.NotNil(t, n.Content)
			raw, err := base64.StdEncoding.DecodeString(*n.Content)
			require.NoError(t, err)
			require.Contains(t, string(raw), "X-Seen: yes\r\n")
			require.Equal(t, "BASE64", n.Receipt.Action["encoding"])
		}
	}
}

// TestSendAction: Send hands the message, with the headers added before
// it, to the send pipeline for the step's recipients; a refusal fails the
// step with its reason and does not retry.
func TestSendAction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rs := b.ruleSet("rs", `[{"Actions":[
		{"AddHeader":{"HeaderName":"X-Outbound","HeaderValue":"yes"}},
		{"Send":{"RoleArn":"arn:aws:iam::`+acct+`:role/r"}}]}]`)
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test", "carol@corp.test"}, body)
	require.NoError(t, err)
	d := b.waitState(qid, gateway.Done)
	require.Equal(t, gateway.StepDone, d.Steps[1].State, d.Steps[1].Error)
	require.Equal(t, "sent as msg-1", d.Steps[1].Detail)
	got := b.sender.all()
	require.Len(t, got, 1)
	require.Equal(t, acct, got[0].account)
	require.Equal(t, []string{"bob@corp.test", "carol@corp.test"}, got[0].rcpts)
	require.Contains(t, string(got[0].raw), "X-Outbound: yes\r\n")

	b.sender.mu.Lock()
	b.sender.refuse = fault.Invalidf("MessageRejected: Email address is not verified")
	b.sender.mu.Unlock()
	qid, err = send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
	require.NoError(t, err)
	d = b.waitState(qid, gateway.Done)
	require.Equal(t, gateway.StepFailed, d.Steps[1].State)
	require.Contains(t, d.Steps[1].Error, "not verified")
}

// TestFeedbackReturnPath: mail for a return path of sent mail goes to the
// sending side as a Feedback step, with no rule for it, and the rule set
// sees only the other recipients; a message that is no report fails the
// step.
func TestFeedbackReturnPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.archive("all")
	rs := b.ruleSet("rs", `[{"Name":"archive-all","Actions":[{"Archive":{"TargetArchive":"all"}}]}]`)
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	dsn := "Subject: Undelivered\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n--B--\r\n"
	rp := "bounce-0100abc@mail.corp.test"
	qid, err := send(t, addr, "", []string{rp, "bob@corp.test"}, dsn)
	require.NoError(t, err)
	d := b.waitState(qid, gateway.Done)
	require.Len(t, d.Steps, 2)
	require.Equal(t, gateway.FeedbackAction, d.Steps[0].Action)
	require.Equal(t, gateway.StepDone, d.Steps[0].State, d.Steps[0].Error)
	require.Equal(t, []string{rp}, d.Steps[0].Recipients)
	require.Equal(t, "bounce recorded", d.Steps[0].Detail)
	require.Equal(t, "Archive", d.Steps[1].Action)
	require.Equal(t, []string{"bob@corp.test"}, d.Steps[1].Recipients)
	got := b.feedback.all()
	require.Len(t, got, 1)
	require.Equal(t, dsn, string(got[0].raw), "the report as received")

	// Only return paths: the rule set is not evaluated.
	qid, err = send(t, addr, "", []string{rp}, "Subject: not a report\r\n\r\nhi\r\n")
	require.NoError(t, err)
	d = b.waitState(qid, gateway.Done)
	require.Len(t, d.Steps, 1)
	require.Equal(t, gateway.StepFailed, d.Steps[0].State)
	require.Contains(t, d.Steps[0].Error, "not a report")
	require.Len(t, b.archiver.archived(), 1)
}

// TestFeedbackLoopReport: an abuse report (ARF) mailed to a fixed
// address (a feedback loop's) about a message the sending side knows
// gets a Feedback step, and still goes through the rule set; a DSN or a
// report about no known message to that address is mail like any other.
func TestFeedbackLoopReport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.archive("all")
	rs := b.ruleSet("rs", `[{"Name":"archive-all","Actions":[{"Archive":{"TargetArchive":"all"}}]}]`)
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	arf := func(mid string) string {
		return "Subject: Abuse report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=B\r\n\r\n" +
			"--B\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n\r\n" +
			"--B\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <" + mid + ">\r\n\r\nhi\r\n--B--\r\n"
	}
	report := arf("0100abc@tidings.test")
	qid, err := send(t, addr, "", []string{"fbl@corp.test"}, report)
	require.NoError(t, err)
	d := b.waitState(qid, gateway.Done)
	require.Len(t, d.Steps, 2)
	require.Equal(t, gateway.FeedbackAction, d.Steps[0].Action)
	require.Equal(t, "(feedback loop)", d.Steps[0].RuleName)
	require.Equal(t, gateway.StepDone, d.Steps[0].State, d.Steps[0].Error)
	require.Equal(t, "complaint about 0100abc", d.Steps[0].Detail)
	require.Equal(t, "Archive", d.Steps[1].Action)
	require.Equal(t, []string{"fbl@corp.test"}, d.Steps[1].Recipients)
	got := b.feedback.all()
	require.Len(t, got, 1)
	require.Equal(t, report, string(got[0].raw), "the report as received")

	for _, m := range []string{
		arf("someone@elsewhere.test"), // about no message of ours
		strings.Replace(arf("0100abc@tidings.test"), "feedback-report;", "delivery-status;", 1),
	} {
		qid, err := send(t, addr, "", []string{"fbl@corp.test"}, m)
		require.NoError(t, err)
		d := b.waitState(qid, gateway.Done)
		require.Len(t, d.Steps, 1)
		require.Equal(t, "Archive", d.Steps[0].Action)
	}
	require.Len(t, b.feedback.all(), 1)
}

// TestSpoolInlineOrBlob: a message up to blob.InlineMax is spooled into the
// database with its row (no file), a larger one to the blob store; both are
// relayed byte for byte, and neither copy outlives its message.
func TestSpoolInlineOrBlob(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var held atomic.Bool
	held.Store(true)
	b.sink.setRcpt(func(string) error {
		if held.Load() {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "not yet"}
		}
		return nil
	})
	relay := b.relay("onprem", b.sink)
	rs := b.ruleSet("rs", fmt.Sprintf(`[{"Actions":[{"Relay":{"Relay":%q}}]}]`, relay))
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")

	line := strings.Repeat("0123456789abcdef", 4) + "\r\n" // 66 octets
	large := "Subject: large\r\n\r\n" + strings.Repeat(line, blob.InlineMax/len(line)+10)
	small := "Subject: small\r\n\r\n" + line
	qSmall, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, small)
	require.NoError(t, err)
	qLarge, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, large)
	require.NoError(t, err)

	st := b.db.Gateway()
	for _, q := range []string{qSmall, qLarge} {
		eventually(t, 30*time.Second, func() bool {
			d, err := b.gw.Queue().Show(context.Background(), q)
			require.NoError(t, err)
			return len(d.Deliveries) == 1 && d.Deliveries[0].Attempts >= 1
		}, "first attempt of "+q)
	}
	ms, err := st.GetMessage(b.ctx, qSmall)
	require.NoError(t, err)
	_, _, err = b.blobs.Get(b.ctx, ms.BlobKey)
	require.True(t, fault.Is(err, fault.NotFound), "no file for the small message: %v", err)
	inline, err := st.SpooledContent(b.ctx, ms.BlobKey)
	require.NoError(t, err)
	require.Contains(t, string(inline), small)

	ml, err := st.GetMessage(b.ctx, qLarge)
	require.NoError(t, err)
	require.Greater(t, ml.Size, int64(blob.InlineMax))
	_, err = st.SpooledContent(b.ctx, ml.BlobKey)
	require.True(t, fault.Is(err, fault.NotFound), "the large message is not in the database: %v", err)
	rc, _, err := b.blobs.Get(b.ctx, ml.BlobKey)
	require.NoError(t, err, "the large message is a file")
	rc.Close()

	held.Store(false)
	for _, q := range []string{qSmall, qLarge} {
		_, err := b.gw.Queue().Retry(context.Background(), q)
		require.NoError(t, err)
	}
	got := b.sink.wait(t, 2)
	var bodies []string
	for _, m := range got {
		_, bd, ok := strings.Cut(string(m.data), "\r\n\r\n")
		require.True(t, ok)
		bodies = append(bodies, bd)
	}
	require.ElementsMatch(t, []string{line, large[len("Subject: large\r\n\r\n"):]}, bodies)
	b.waitState(qSmall, gateway.Done)
	b.waitState(qLarge, gateway.Done)
	_, err = st.SpooledContent(b.ctx, ms.BlobKey)
	require.True(t, fault.Is(err, fault.NotFound), "database copy removed: %v", err)
	// The file goes just after the commit that makes the message DONE.
	require.Eventually(t, func() bool {
		_, _, err = b.blobs.Get(b.ctx, ml.BlobKey)
		return fault.Is(err, fault.NotFound)
	}, 10*time.Second, 10*time.Millisecond, "file removed: %v", err)
}
