package e2e

import (
	"encoding/json"
	"sort"
	"testing"
)

// TestSimulatorEventsAtWebhook sends to every mailbox simulator address
// with the AWS CLI and checks what a user's webhook receives, as SES
// documents it: the configuration set's events (through a topic), and
// SES v1's identity notifications (SetIdentityNotificationTopic) on a
// second topic, with headers only where asked for.
func TestSimulatorEventsAtWebhook(t *testing.T) {
	t.Parallel()
	s, sink, z := startSendingServer(t, serverOpts{})
	hooks := startReceiver(t, map[string][]int{})
	domain := "sim.example.test"
	verifyDomainByDNS(t, s, z, domain)

	events := webhookTopic(t, s, "sim-events", hooks.url+"/events")
	s.AWS(t, "sesv2", "create-configuration-set", "--configuration-set-name", "sim")
	s.AWS(t, "sesv2", "create-configuration-set-event-destination", "--configuration-set-name", "sim",
		"--event-destination-name", "all", "--event-destination", jsonArg(map[string]any{
			"Enabled": true, "MatchingEventTypes": []string{"SEND", "DELIVERY", "BOUNCE", "COMPLAINT"},
			"SnsDestination": map[string]any{"TopicArn": events},
		}))
	notes := webhookTopic(t, s, "sim-notes", hooks.url+"/notes")
	for _, typ := range []string{"Bounce", "Complaint", "Delivery"} {
		s.AWS(t, "ses", "set-identity-notification-topic", "--identity", domain, "--notification-type", typ, "--sns-topic", notes)
	}
	s.AWS(t, "ses", "set-identity-headers-in-notifications-enabled", "--identity", domain, "--notification-type", "Delivery", "--enabled")
	// The domain's dots would split a path of at(): its entry is read
	// directly.
	notifyAttrs := func() map[string]any {
		out := s.AWS(t, "ses", "get-identity-notification-attributes", "--identities", domain)
		m, _ := at(out, "NotificationAttributes").(map[string]any)[domain].(map[string]any)
		return m
	}
	attrs := notifyAttrs()
	for _, k := range []string{"BounceTopic", "ComplaintTopic", "DeliveryTopic"} {
		eq(t, k, any(notes), attrs[k])
	}
	eq(t, "headers in deliveries", any(true), attrs["HeadersInDeliveryNotificationsEnabled"])
	eq(t, "headers in bounces", any(false), attrs["HeadersInBounceNotificationsEnabled"])

	sent := s.AWS(t, "sesv2", "send-email", "--from-email-address", "app@"+domain, "--configuration-set-name", "sim",
		"--destination", jsonArg(map[string]any{"ToAddresses": []string{
			"success@simulator.amazonses.com", "bounce@simulator.amazonses.com", "ooto+label@simulator.amazonses.com",
			"complaint@simulator.amazonses.com", "suppressionlist@simulator.amazonses.com"}}),
		"--content", jsonArg(map[string]any{"Simple": map[string]any{
			"Subject": map[string]any{"Data": "simulated"}, "Body": map[string]any{"Text": map[string]any{"Data": "hi"}}}}))
	id := str(t, sent, "MessageId")

	// The configuration set's events: Send; Delivery for success, ooto
	// and complaint; Bounce for bounce (General) and suppressionlist
	// (OnAccountSuppressionList); Complaint (abuse).
	got := webhookJSON(t, hooks, "/events", 7)
	byType := map[string][]map[string]any{}
	for _, ev := range got {
		eq(t, "message of the event", id, at(ev, "mail.messageId"))
		byType[at(ev, "eventType").(string)] = append(byType[at(ev, "eventType").(string)], ev)
	}
	counts := map[string]int{}
	for k, v := range byType {
		counts[k] = len(v)
	}
	eq(t, "events by type", map[string]int{"Send": 1, "Delivery": 3, "Bounce": 2, "Complaint": 1}, counts)
	var subtypes []string
	for _, ev := range byType["Bounce"] {
		subtypes = append(subtypes, at(ev, "bounce.bouncedRecipients.0.emailAddress").(string)+" "+
			at(ev, "bounce.bounceType").(string)+"/"+at(ev, "bounce.bounceSubType").(string))
	}
	sort.Strings(subtypes)
	eq(t, "bounces", []string{"bounce@simulator.amazonses.com Permanent/General",
		"suppressionlist@simulator.amazonses.com Permanent/OnAccountSuppressionList"}, subtypes)
	if c := byType["Complaint"]; len(c) == 1 {
		eqAt(t, c[0], "complaint.complaintFeedbackType", "abuse")
		eqAt(t, c[0], "complaint.complainedRecipients.0.emailAddress", "complaint@simulator.amazonses.com")
	}

	// The identity's notifications: the same outcomes, without the Send,
	// as notificationType; headers only in the Delivery ones.
	got = webhookJSON(t, hooks, "/notes", 6)
	counts = map[string]int{}
	for _, n := range got {
		typ, _ := at(n, "notificationType").(string)
		counts[typ]++
		eq(t, "message of the notification", id, at(n, "mail.messageId"))
		if at(n, "eventType") != nil || at(n, "mail.tags") != nil {
			t.Errorf("a notification has event fields: %s", js(n))
		}
		hasHeaders := at(n, "mail.headers") != nil
		if hasHeaders != (typ == "Delivery") {
			t.Errorf("%s notification: headers present %v, want %v: %s", typ, hasHeaders, typ == "Delivery", js(n))
		}
		if typ == "Delivery" {
			eqAt(t, n, "mail.commonHeaders.subject", "simulated")
		}
	}
	eq(t, "notifications by type", map[string]int{"Delivery": 3, "Bounce": 2, "Complaint": 1}, counts)
	if n := sink.count(containing("simulator.amazonses.com")); n != 0 {
		t.Errorf("%d simulator messages reached the network", n)
	}

	// Removing a topic stops its notifications: only the Send and
	// Delivery events come for the next message, and no notification.
	s.AWS(t, "ses", "set-identity-notification-topic", "--identity", domain, "--notification-type", "Delivery")
	if attrs = notifyAttrs(); attrs["DeliveryTopic"] != nil {
		t.Errorf("DeliveryTopic still set: %s", js(attrs))
	}
	s.AWS(t, "sesv2", "send-email", "--from-email-address", "app@"+domain, "--configuration-set-name", "sim",
		"--destination", jsonArg(map[string]any{"ToAddresses": []string{"success@simulator.amazonses.com"}}),
		"--content", jsonArg(map[string]any{"Simple": map[string]any{
			"Subject": map[string]any{"Data": "again"}, "Body": map[string]any{"Text": map[string]any{"Data": "hi"}}}}))
	webhookJSON(t, hooks, "/events", 2)
	hooks.mu.Lock()
	n := 0
	for _, h := range hooks.got {
		if h.path == "/notes" {
			n++
		}
	}
	hooks.mu.Unlock()
	eq(t, "notifications after the topic was removed", 6, n)
}

// webhookJSON waits for n signed requests at path and decodes their
// bodies.
func webhookJSON(t *testing.T, rc *receiver, path string, n int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for range n {
		h := rc.wait(t, path)
		if !h.sigOK {
			t.Errorf("webhook signature does not verify: %+v", h)
		}
		var v map[string]any
		if err := json.Unmarshal(h.body, &v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, h.body)
		}
		out = append(out, v)
	}
	return out
}
