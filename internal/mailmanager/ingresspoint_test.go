package mailmanager_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailmanager"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

func caPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestIngressPointTypesAndConfiguration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	policy := b.trafficPolicy(t, "policy")
	ruleSet := b.ruleSet(t, "rules", "", "")
	ca := caPEM(t)
	secret := "arn:aws:secretsmanager:us-east-1:" + acct1 + ":secret:smtp-AbCdEf"

	for _, tc := range []struct {
		name    string
		typ     mm.IngressPointType
		conf    *mm.IngressPointConfiguration
		tls     mm.TlsPolicy
		network *mm.NetworkConfiguration
		wantErr string
	}{
		{name: "open", typ: mm.IngressPointTypeOpen},
		{name: "open-optional-tls", typ: mm.IngressPointTypeOpen, tls: mm.TlsPolicyOptional},
		{name: "open-with-password", typ: mm.IngressPointTypeOpen, conf: &mm.IngressPointConfiguration{SmtpPassword: p("correct-horse")}, wantErr: "OPEN ingress point takes no"},
		{name: "auth-password", typ: mm.IngressPointTypeAuth, conf: &mm.IngressPointConfiguration{SmtpPassword: p("correct-horse")}},
		{name: "auth-secret", typ: mm.IngressPointTypeAuth, conf: &mm.IngressPointConfiguration{SecretArn: p(secret)}},
		{name: "auth-nothing", typ: mm.IngressPointTypeAuth, wantErr: "needs IngressPointConfiguration.SmtpPassword or SecretArn"},
		{name: "auth-truststore", typ: mm.IngressPointTypeAuth, conf: &mm.IngressPointConfiguration{TlsAuthConfiguration: &mm.TlsAuthConfiguration{TrustStore: &mm.TrustStore{CAContent: p(ca)}}}, wantErr: "TlsAuthConfiguration is for MTLS"},
		{name: "auth-optional-public", typ: mm.IngressPointTypeAuth, conf: &mm.IngressPointConfiguration{SmtpPassword: p("correct-horse")}, tls: mm.TlsPolicyOptional, wantErr: "private network only"},
		{name: "auth-optional-private", typ: mm.IngressPointTypeAuth, conf: &mm.IngressPointConfiguration{SmtpPassword: p("correct-horse")}, tls: mm.TlsPolicyOptional,
			network: &mm.NetworkConfiguration{PrivateNetworkConfiguration: &mm.PrivateNetworkConfiguration{VpcEndpointId: p("vpce-0123456789abcdef0")}}},
		{name: "mtls", typ: mm.IngressPointTypeMtls, conf: &mm.IngressPointConfiguration{TlsAuthConfiguration: &mm.TlsAuthConfiguration{TrustStore: &mm.TrustStore{CAContent: p(ca)}}}},
		{name: "mtls-nothing", typ: mm.IngressPointTypeMtls, wantErr: "needs IngressPointConfiguration.TlsAuthConfiguration.TrustStore"},
		{name: "mtls-garbage-ca", typ: mm.IngressPointTypeMtls, conf: &mm.IngressPointConfiguration{TlsAuthConfiguration: &mm.TlsAuthConfiguration{TrustStore: &mm.TrustStore{CAContent: p("not a certificate")}}}, wantErr: "holds no PEM certificate"},
		{name: "mtls-bad-crl", typ: mm.IngressPointTypeMtls, conf: &mm.IngressPointConfiguration{TlsAuthConfiguration: &mm.TlsAuthConfiguration{TrustStore: &mm.TrustStore{CAContent: p(ca), CrlContent: p("nope")}}}, wantErr: "holds no PEM CRL"},
		{name: "mtls-password", typ: mm.IngressPointTypeMtls, conf: &mm.IngressPointConfiguration{SmtpPassword: p("correct-horse")}, wantErr: "are for AUTH ingress points"},
		{name: "mtls-optional", typ: mm.IngressPointTypeMtls, conf: &mm.IngressPointConfiguration{TlsAuthConfiguration: &mm.TlsAuthConfiguration{TrustStore: &mm.TrustStore{CAContent: p(ca)}}}, tls: mm.TlsPolicyOptional, wantErr: "not available for MTLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &mm.CreateIngressPointRequest{
				IngressPointName: p(tc.name), Type: p(tc.typ), RuleSetId: p(ruleSet), TrafficPolicyId: p(policy),
				IngressPointConfiguration: tc.conf, NetworkConfiguration: tc.network,
			}
			if tc.tls != "" {
				in.TlsPolicy = p(tc.tls)
			}
			require.NoError(t, in.Validate())
			out, err := b.svc.CreateIngressPoint(b.ctx, in)
			if tc.wantErr != "" {
				requireFault(t, err, fault.Invalid, tc.wantErr)
				return
			}
			require.NoError(t, err)
			got, err := b.svc.GetIngressPoint(b.ctx, &mm.GetIngressPointRequest{IngressPointId: out.IngressPointId})
			require.NoError(t, err)
			require.Equal(t, tc.typ, *got.Type)
			require.Equal(t, mm.IngressPointStatusActive, *got.Status, "no provisioning: ACTIVE at once")
			wantTLS := tc.tls
			if wantTLS == "" {
				wantTLS = mm.TlsPolicyRequired
			}
			require.Equal(t, wantTLS, *got.TlsPolicy)
			require.NotNil(t, got.NetworkConfiguration)
			auth := got.IngressPointAuthConfiguration
			switch {
			case tc.typ == mm.IngressPointTypeOpen:
				require.Nil(t, auth)
			case tc.conf.SmtpPassword != nil:
				require.Equal(t, "1", *auth.IngressPointPasswordConfiguration.SmtpPasswordVersion)
				require.NotContains(t, toJSON(t, got), "correct-horse", "the password is never returned")
			case tc.conf.SecretArn != nil:
				require.Equal(t, secret, *auth.SecretArn)
			default:
				require.Nil(t, auth.TlsAuthConfiguration.TrustStore.CAContent, "excluded by default")
				inc, err := b.svc.GetIngressPoint(b.ctx, &mm.GetIngressPointRequest{
					IngressPointId: out.IngressPointId, IncludeTrustStoreContents: p(mm.TrustStoreResponseOptionInclude)})
				require.NoError(t, err)
				require.Equal(t, ca, *inc.IngressPointAuthConfiguration.TlsAuthConfiguration.TrustStore.CAContent)
			}
		})
	}
}

func TestIngressPointPasswordRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	policy := b.trafficPolicy(t, "policy")
	ruleSet := b.ruleSet(t, "rules", "", "")
	out, err := b.svc.CreateIngressPoint(b.ctx, &mm.CreateIngressPointRequest{
		IngressPointName: p("submission"), Type: p(mm.IngressPointTypeAuth), RuleSetId: p(ruleSet), TrafficPolicyId: p(policy),
		IngressPointConfiguration: &mm.IngressPointConfiguration{SmtpPassword: p("first-password")},
	})
	require.NoError(t, err)
	id := *out.IngressPointId

	listener := func() mailmanager.IngressPointRecord {
		ls, err := b.svc.Listeners(b.ctx)
		require.NoError(t, err)
		for _, l := range ls {
			if l.ID == id {
				require.Equal(t, acct1, l.AccountID)
				return l.Record
			}
		}
		t.Fatalf("no listener %s", id)
		return mailmanager.IngressPointRecord{}
	}
	rec := listener()
	require.NotContains(t, rec.Password.Hash, "first-password")
	require.True(t, rec.CheckPassword("first-password", b.clock.Now()))
	require.False(t, rec.CheckPassword("wrong", b.clock.Now()))

	_, err = b.svc.UpdateIngressPoint(b.ctx, &mm.UpdateIngressPointRequest{
		IngressPointId: p(id), IngressPointConfiguration: &mm.IngressPointConfiguration{SmtpPassword: p("second-password")},
	})
	require.NoError(t, err)
	rec = listener()
	now := b.clock.Now()
	require.True(t, rec.CheckPassword("second-password", now))
	require.True(t, rec.CheckPassword("first-password", now), "the previous password works for a grace period")
	require.False(t, rec.CheckPassword("first-password", now.Add(25*time.Hour)))

	got, err := b.svc.GetIngressPoint(b.ctx, &mm.GetIngressPointRequest{IngressPointId: p(id)})
	require.NoError(t, err)
	pc := got.IngressPointAuthConfiguration.IngressPointPasswordConfiguration
	require.Equal(t, "2", *pc.SmtpPasswordVersion)
	require.Equal(t, "1", *pc.PreviousSmtpPasswordVersion)
	require.Equal(t, now.Add(24*time.Hour), pc.PreviousSmtpPasswordExpiryTimestamp.Time)

	// An OPEN ingress point takes no configuration on update either.
	openID, err := b.openIngress(t, "open", ruleSet, policy)
	require.NoError(t, err)
	_, err = b.svc.UpdateIngressPoint(b.ctx, &mm.UpdateIngressPointRequest{
		IngressPointId: p(openID), IngressPointConfiguration: &mm.IngressPointConfiguration{SmtpPassword: p("x-password")},
	})
	requireFault(t, err, fault.Invalid, "OPEN")
}

func TestIngressPointStatusAndTLSPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	policy := b.trafficPolicy(t, "policy")
	ruleSet := b.ruleSet(t, "rules", "", "")
	id, err := b.openIngress(t, "mx-1", ruleSet, policy)
	require.NoError(t, err)

	status := func() mm.IngressPointStatus {
		got, err := b.svc.GetIngressPoint(b.ctx, &mm.GetIngressPointRequest{IngressPointId: p(id)})
		require.NoError(t, err)
		return *got.Status
	}
	for _, to := range []mm.IngressPointStatusToUpdate{mm.IngressPointStatusToUpdateClosed, mm.IngressPointStatusToUpdateClosed, mm.IngressPointStatusToUpdateActive} {
		_, err := b.svc.UpdateIngressPoint(b.ctx, &mm.UpdateIngressPointRequest{IngressPointId: p(id), StatusToUpdate: p(to)})
		require.NoError(t, err)
		require.Equal(t, mm.IngressPointStatus(to), status())
	}
	list, err := b.svc.ListIngressPoints(b.ctx, &mm.ListIngressPointsRequest{})
	require.NoError(t, err)
	require.Len(t, list.IngressPoints, 1)
	require.Equal(t, mm.IngressPointStatusActive, *list.IngressPoints[0].Status)

	// FIPS cannot be changed once set.
	_, err = b.svc.UpdateIngressPoint(b.ctx, &mm.UpdateIngressPointRequest{IngressPointId: p(id), TlsPolicy: p(mm.TlsPolicyFips)})
	require.NoError(t, err)
	_, err = b.svc.UpdateIngressPoint(b.ctx, &mm.UpdateIngressPointRequest{IngressPointId: p(id), TlsPolicy: p(mm.TlsPolicyOptional)})
	requireFault(t, err, fault.Invalid, "FIPS")
}

func TestIngressPointPorts(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{ports: mailmanager.PortRange{Min: 30000, Max: 30002}})
	policy := b.trafficPolicy(t, "policy")
	ruleSet := b.ruleSet(t, "rules", "", "")
	portTag := func(v string) mm.Tag { return mm.Tag{Key: p(mailmanager.PortTag), Value: p(v)} }
	aRecord := func(id string) string {
		got, err := b.svc.GetIngressPoint(b.ctx, &mm.GetIngressPointRequest{IngressPointId: p(id)})
		require.NoError(t, err)
		return *got.ARecord
	}

	var ids []string
	for i, want := range []string{"127.0.0.1:30000", "127.0.0.1:30001", "127.0.0.1:30002"} {
		id, err := b.openIngress(t, "auto-"+string(rune('a'+i)), ruleSet, policy)
		require.NoError(t, err)
		require.Equal(t, want, aRecord(id))
		ids = append(ids, id)
	}
	_, err := b.openIngress(t, "auto-full", ruleSet, policy)
	requireFault(t, err, fault.QuotaExceeded, "30000-30002")

	// A requested port, outside the range, is given as asked.
	asked, err := b.openIngress(t, "asked", ruleSet, policy, portTag("2525"))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:2525", aRecord(asked))
	for _, tc := range []struct {
		value string
		kind  fault.Kind
		msg   string
	}{
		{"2525", fault.Conflict, "Port 2525 is used by ingress point " + asked + " (asked)"},
		{"30001", fault.Conflict, "Port 30001 is used by ingress point " + ids[1]},
		{"0", fault.Invalid, "1 to 65535"},
		{"65536", fault.Invalid, "1 to 65535"},
		{"smtp", fault.Invalid, "1 to 65535"},
	} {
		_, err := b.openIngress(t, "bad-"+tc.value, ruleSet, policy, portTag(tc.value))
		requireFault(t, err, tc.kind, tc.msg)
	}
	// Ports are global: another account cannot take it either, nor learn
	// whose it is.
	policy2, err := b.svc.CreateTrafficPolicy(b.ctx2, trafficPolicyRequest("p2"))
	require.NoError(t, err)
	rules2, err := b.svc.CreateRuleSet(b.ctx2, ruleSetRequest("r2", "", ""))
	require.NoError(t, err)
	_, err = b.svc.CreateIngressPoint(b.ctx2, &mm.CreateIngressPointRequest{
		IngressPointName: p("theirs"), Type: p(mm.IngressPointTypeOpen), RuleSetId: rules2.RuleSetId, TrafficPolicyId: policy2.TrafficPolicyId,
		Tags: []mm.Tag{portTag("2525")},
	})
	requireFault(t, err, fault.Conflict, "Port 2525 is used by another ingress point")

	// Nothing of a failed create remains.
	list, err := b.svc.ListIngressPoints(b.ctx, &mm.ListIngressPointsRequest{})
	require.NoError(t, err)
	require.Len(t, list.IngressPoints, 4)

	// Deleting frees the port for the next allocation.
	_, err = b.svc.DeleteIngressPoint(b.ctx, &mm.DeleteIngressPointRequest{IngressPointId: p(ids[1])})
	require.NoError(t, err)
	again, err := b.openIngress(t, "again", ruleSet, policy)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:30001", aRecord(again))

	// Retagging moves an ingress point; to a taken port it conflicts.
	arn := "arn:aws:ses:us-east-1:" + acct1 + ":mailmanager-ingress-point/" + asked
	_, err = b.svc.TagResource(b.ctx, &mm.TagResourceRequest{ResourceArn: p(arn), Tags: []mm.Tag{portTag("2526")}})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:2526", aRecord(asked))
	_, err = b.svc.TagResource(b.ctx, &mm.TagResourceRequest{ResourceArn: p(arn), Tags: []mm.Tag{portTag("30000")}})
	requireFault(t, err, fault.Conflict, "Port 30000")
	moved, err := b.openIngress(t, "takes-2525", ruleSet, policy, portTag("2525"))
	require.NoError(t, err, "the old port was released")
	require.Equal(t, "127.0.0.1:2525", aRecord(moved))
}
