package mailmanager

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// PortTag is the tag that chooses the TCP port of an ingress point. AWS
// gives every ingress point its own host name on port 25; Tidings gives
// every ingress point its own port on one host, so the port is the part of
// the ARecord ("host:port") a user may want to choose. The Mail Manager API
// has no member for it, and the tag keeps the AWS CLI, the SDKs and
// `tidings apply` usable unchanged:
//
//	aws mailmanager create-ingress-point ... --tags Key=tidings:port,Value=2525
//
// The value is a decimal port, 1–65535, that no other ingress point (of any
// account) holds; without the tag a free port of Config.Ports is chosen.
// Tagging an existing ingress point with tidings:port moves it to that port;
// removing the tag keeps the port it has.
const PortTag = "tidings:port"

// portClaims is the Claim namespace of ingress point ports (global: one
// port serves one ingress point across all accounts).
const portClaims = "smtp-port"

// errPortRace: a port seen free was claimed by a concurrent transaction.
var errPortRace = errors.New("mailmanager: port claimed concurrently")

// withPortRetry runs fn in a transaction, again when it lost a race for a
// port (the losing transaction has rolled back; in PostgreSQL it cannot go
// on after the failed insert).
func (s *Service) withPortRetry(ctx context.Context, fn func(Tx) error) error {
	for range 5 {
		err := s.store.InTx(ctx, fn)
		if !errors.Is(err, errPortRace) {
			return err
		}
	}
	return fault.Conflictf("Could not allocate an SMTP port; retry the request")
}

func parsePort(v string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || p < 1 || p > 65535 {
		return 0, fault.Invalidf("Tag %s must be a TCP port number from 1 to 65535, not %q", PortTag, v)
	}
	return p, nil
}

// portInUse fails with a conflict when another ingress point holds port.
func (s *Service) portInUse(ctx context.Context, tx Tx, acct string, port int, self string) error {
	owner, err := tx.Claimed(ctx, portClaims, strconv.Itoa(port))
	if err != nil || owner == "" || owner == self {
		return err
	}
	// Name the user only when it is in the caller's account.
	if r, err := tx.Get(ctx, acct, KindIngressPoint, owner); err == nil {
		return fault.Conflictf("Port %d is used by ingress point %s (%s)", port, r.ID, r.Name)
	}
	return fault.Conflictf("Port %d is used by another ingress point", port)
}

// allocatePort returns the port requested (0: any) if it is free.
func (s *Service) allocatePort(ctx context.Context, tx Tx, acct string, requested int) (int, error) {
	if requested > 0 {
		return requested, s.portInUse(ctx, tx, acct, requested, "")
	}
	for p := s.cfg.Ports.Min; p <= s.cfg.Ports.Max; p++ {
		owner, err := tx.Claimed(ctx, portClaims, strconv.Itoa(p))
		if err != nil {
			return 0, err
		}
		if owner == "" {
			return p, nil
		}
	}
	return 0, fault.QuotaExceededf("No free SMTP port is left in %d-%d for another ingress point", s.cfg.Ports.Min, s.cfg.Ports.Max)
}

// claimPort claims port for ingress point id.
func claimPort(ctx context.Context, tx Tx, port int, id string, requested bool) error {
	err := tx.Claim(ctx, portClaims, strconv.Itoa(port), id)
	if fault.Is(err, fault.Conflict) {
		if requested {
			return fault.Conflictf("Port %d is used by another ingress point", port)
		}
		return errPortRace
	}
	return err
}

// movePort moves an ingress point to the port of a tidings:port tag.
func (s *Service) movePort(ctx context.Context, tx Tx, r *Resource, value string) error {
	port, err := parsePort(value)
	if err != nil {
		return err
	}
	rec, err := DecodeIngressPoint(r)
	if err != nil {
		return err
	}
	if rec.Port == port {
		return nil
	}
	if err := s.portInUse(ctx, tx, r.AccountID, port, r.ID); err != nil {
		return err
	}
	if err := tx.Release(ctx, portClaims, r.ID); err != nil {
		return err
	}
	if err := claimPort(ctx, tx, port, r.ID, true); err != nil {
		return err
	}
	rec.Port = port
	r.Body, r.UpdatedAt = encodeBody(rec), s.now()
	return tx.Update(ctx, r)
}

// requireRef checks that an ingress point's rule set or traffic policy
// exists in the account.
func requireRef(ctx context.Context, tx Tx, acct string, k Kind, id string) error {
	_, err := tx.Get(ctx, acct, k, id)
	if fault.Is(err, fault.NotFound) {
		return fault.Invalidf("%s %s does not exist", capitalize(k.label()), id)
	}
	return err
}

// checkSecret checks the SecretArn of c, if any, before a transaction.
func (s *Service) checkSecret(ctx context.Context, acct string, c *mm.IngressPointConfiguration) error {
	if c == nil || c.SecretArn == nil || s.cfg.CheckSecret == nil {
		return nil
	}
	return s.cfg.CheckSecret(ctx, acct, *c.SecretArn)
}

// passwordHash hashes the SmtpPassword of c, if any, before a transaction:
// PBKDF2 is slow on purpose.
func passwordHash(c *mm.IngressPointConfiguration) (string, error) {
	if c == nil || c.SmtpPassword == nil {
		return "", nil
	}
	return hashPassword(*c.SmtpPassword)
}

// applyAuthConfig checks the configuration of an ingress point against its
// type and records it: OPEN takes none; AUTH takes SmtpPassword (hashed
// already by passwordHash) or SecretArn; MTLS takes a TlsAuthConfiguration
// with a trust store.
func (s *Service) applyAuthConfig(rec *IngressPointRecord, c *mm.IngressPointConfiguration, hash string, creating bool) error {
	empty := c == nil || (c.SmtpPassword == nil && c.SecretArn == nil && c.TlsAuthConfiguration == nil)
	switch rec.Type {
	case mm.IngressPointTypeOpen:
		if !empty {
			return fault.Invalidf("An OPEN ingress point takes no IngressPointConfiguration")
		}
	case mm.IngressPointTypeAuth:
		if empty {
			if creating {
				return fault.Invalidf("An AUTH ingress point needs IngressPointConfiguration.SmtpPassword or SecretArn")
			}
			return nil
		}
		if c.TlsAuthConfiguration != nil {
			return fault.Invalidf("TlsAuthConfiguration is for MTLS ingress points; an AUTH ingress point takes SmtpPassword or SecretArn")
		}
		if c.SmtpPassword != nil && c.SecretArn != nil {
			return fault.Invalidf("Give SmtpPassword or SecretArn, not both")
		}
		if c.SecretArn != nil {
			rec.SecretArn, rec.Password = *c.SecretArn, nil
			return nil
		}
		h := hash
		if p := rec.Password; p != nil {
			v, _ := strconv.Atoi(p.Version)
			rec.Password = &PasswordRecord{
				Hash: h, Version: strconv.Itoa(v + 1),
				PreviousHash: p.Hash, PreviousVersion: p.Version,
				PreviousExpires: s.now().Add(s.cfg.PreviousPasswordGrace),
			}
		} else {
			rec.Password = &PasswordRecord{Hash: h, Version: "1"}
		}
		rec.SecretArn = ""
	case mm.IngressPointTypeMtls:
		if empty {
			if creating {
				return fault.Invalidf("An MTLS ingress point needs IngressPointConfiguration.TlsAuthConfiguration.TrustStore")
			}
			return nil
		}
		if c.SmtpPassword != nil || c.SecretArn != nil {
			return fault.Invalidf("SmtpPassword and SecretArn are for AUTH ingress points; an MTLS ingress point takes TlsAuthConfiguration")
		}
		if c.TlsAuthConfiguration.TrustStore == nil {
			return fault.Invalidf("TlsAuthConfiguration.TrustStore is required")
		}
		if err := checkTrustStore(c.TlsAuthConfiguration.TrustStore); err != nil {
			return err
		}
		rec.TrustStore = c.TlsAuthConfiguration.TrustStore
	default:
		return fault.Invalidf("Unknown ingress point type %q", rec.Type)
	}
	return nil
}

// checkTrustStore checks that the CA bundle holds PEM certificates and the
// CRL, when given, PEM certificate revocation lists: the SMTP server will
// verify client certificates against them.
func checkTrustStore(t *mm.TrustStore) error {
	n := 0
	rest := []byte(str(t.CAContent))
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fault.Invalidf("TrustStore.CAContent holds a certificate that does not parse: %v", err)
		}
		n++
	}
	if n == 0 {
		return fault.Invalidf("TrustStore.CAContent holds no PEM certificate")
	}
	if t.CrlContent != nil {
		rest, n = []byte(*t.CrlContent), 0
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if _, err := x509.ParseRevocationList(b.Bytes); err != nil {
				return fault.Invalidf("TrustStore.CrlContent holds a CRL that does not parse: %v", err)
			}
			n++
		}
		if n == 0 {
			return fault.Invalidf("TrustStore.CrlContent holds no PEM CRL")
		}
	}
	return nil
}

// checkTLSPolicy applies AWS's rules: OPTIONAL (plain text allowed) is for
// OPEN ingress points and AUTH ones on a private network only.
func checkTLSPolicy(rec *IngressPointRecord) error {
	if rec.TLSPolicy != mm.TlsPolicyOptional {
		return nil
	}
	switch {
	case rec.Type == mm.IngressPointTypeMtls:
		return fault.Invalidf("TlsPolicy OPTIONAL is not available for MTLS ingress points")
	case rec.Type == mm.IngressPointTypeAuth && (rec.NetworkConfiguration == nil || rec.NetworkConfiguration.PrivateNetworkConfiguration == nil):
		return fault.Invalidf("TlsPolicy OPTIONAL is available for AUTH ingress points on a private network only")
	}
	return nil
}

// CreateIngressPoint creates an ingress point listening on its own port.
// Its rule set and traffic policy must exist. There is no provisioning to
// wait for, so it is ACTIVE at once (AWS shows PROVISIONING first; clients
// that poll for ACTIVE see it on their first poll).
func (s *Service) CreateIngressPoint(ctx context.Context, in *mm.CreateIngressPointRequest) (*mm.CreateIngressPointResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	requested := 0
	if v, ok := tags[PortTag]; ok {
		if requested, err = parsePort(v); err != nil {
			return nil, err
		}
	}
	rec := IngressPointRecord{
		Type:                 deref(in.Type),
		Status:               mm.IngressPointStatusActive,
		RuleSetID:            str(in.RuleSetId),
		TrafficPolicyID:      str(in.TrafficPolicyId),
		TLSPolicy:            s.cfg.DefaultTLSPolicy,
		NetworkConfiguration: in.NetworkConfiguration,
	}
	switch {
	case in.TlsPolicy != nil:
		rec.TLSPolicy = *in.TlsPolicy
	case rec.Type != mm.IngressPointTypeOpen:
		// Passwords and client certificates must not cross the wire in
		// clear: AUTH and MTLS ingress points require TLS unless told
		// otherwise (and checkTLSPolicy says when they may be).
		rec.TLSPolicy = mm.TlsPolicyRequired
	}
	if err := checkTLSPolicy(&rec); err != nil {
		return nil, err
	}
	hash, err := passwordHash(in.IngressPointConfiguration)
	if err != nil {
		return nil, err
	}
	if err := s.checkSecret(ctx, acct, in.IngressPointConfiguration); err != nil {
		return nil, err
	}
	if err := s.applyAuthConfig(&rec, in.IngressPointConfiguration, hash, true); err != nil {
		return nil, err
	}
	id, name := newID(KindIngressPoint), str(in.IngressPointName)
	err = s.withPortRetry(ctx, func(tx Tx) error {
		if err := checkName(ctx, tx, acct, KindIngressPoint, name, ""); err != nil {
			return err
		}
		if err := requireRef(ctx, tx, acct, KindRuleSet, rec.RuleSetID); err != nil {
			return err
		}
		if err := requireRef(ctx, tx, acct, KindTrafficPolicy, rec.TrafficPolicyID); err != nil {
			return err
		}
		port, err := s.allocatePort(ctx, tx, acct, requested)
		if err != nil {
			return err
		}
		rec.Port = port
		now := s.now()
		r := &Resource{
			AccountID: acct, Kind: KindIngressPoint, ID: id, Name: name,
			ARN: s.arn(acct, KindIngressPoint, id), Body: encodeBody(rec),
			Refs:      refList(rec.RuleSetID, rec.TrafficPolicyID),
			CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		if err := claimPort(ctx, tx, port, id, requested > 0); err != nil {
			return err
		}
		return setTags(ctx, tx, acct, r.ARN, tags)
	})
	if err != nil {
		return nil, err
	}
	return &mm.CreateIngressPointResponse{IngressPointId: ptr(id)}, nil
}

func refList(ids ...string) []string {
	if len(ids) == 2 && ids[0] > ids[1] {
		ids[0], ids[1] = ids[1], ids[0]
	}
	return ids
}

// GetIngressPoint returns an ingress point. Its ARecord is "host:port".
// The SMTP password is never returned, only its version; the trust store
// contents only with IncludeTrustStoreContents=INCLUDE.
func (s *Service) GetIngressPoint(ctx context.Context, in *mm.GetIngressPointRequest) (*mm.GetIngressPointResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var out *mm.GetIngressPointResponse
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindIngressPoint, str(in.IngressPointId))
		if err != nil {
			return err
		}
		rec, err := DecodeIngressPoint(r)
		if err != nil {
			return err
		}
		out = &mm.GetIngressPointResponse{
			IngressPointId:       ptr(r.ID),
			IngressPointName:     ptr(r.Name),
			IngressPointArn:      ptr(r.ARN),
			ARecord:              ptr(hostPort(s.cfg.SMTPHost, rec.Port)),
			Status:               ptr(rec.Status),
			Type:                 ptr(rec.Type),
			RuleSetId:            ptr(rec.RuleSetID),
			TrafficPolicyId:      ptr(rec.TrafficPolicyID),
			TlsPolicy:            ptr(rec.TLSPolicy),
			NetworkConfiguration: rec.NetworkConfiguration,
			CreatedTimestamp:     ts(r.CreatedAt),
			LastUpdatedTimestamp: ts(r.UpdatedAt),
		}
		if out.NetworkConfiguration == nil {
			out.NetworkConfiguration = &mm.NetworkConfiguration{
				PublicNetworkConfiguration: &mm.PublicNetworkConfiguration{IpType: ptr(mm.IpTypeIpv4)},
			}
		}
		out.IngressPointAuthConfiguration = s.authConfig(rec, deref(in.IncludeTrustStoreContents) == mm.TrustStoreResponseOptionInclude)
		return nil
	})
	return out, err
}

func (s *Service) authConfig(rec *IngressPointRecord, include bool) *mm.IngressPointAuthConfiguration {
	switch {
	case rec.Password != nil:
		pc := &mm.IngressPointPasswordConfiguration{SmtpPasswordVersion: ptr(rec.Password.Version)}
		if p := rec.Password; p.PreviousHash != "" && s.now().Before(p.PreviousExpires) {
			pc.PreviousSmtpPasswordVersion = ptr(p.PreviousVersion)
			pc.PreviousSmtpPasswordExpiryTimestamp = ts(p.PreviousExpires)
		}
		return &mm.IngressPointAuthConfiguration{IngressPointPasswordConfiguration: pc}
	case rec.SecretArn != "":
		return &mm.IngressPointAuthConfiguration{SecretArn: ptr(rec.SecretArn)}
	case rec.TrustStore != nil:
		t := &mm.TrustStore{KmsKeyArn: rec.TrustStore.KmsKeyArn}
		if include {
			t.CAContent, t.CrlContent = rec.TrustStore.CAContent, rec.TrustStore.CrlContent
		}
		return &mm.IngressPointAuthConfiguration{TlsAuthConfiguration: &mm.TlsAuthConfiguration{TrustStore: t}}
	}
	return nil
}

// UpdateIngressPoint changes the members given. StatusToUpdate opens
// (ACTIVE) or closes (CLOSED) the ingress point; a FIPS TLS policy cannot be
// changed, as in AWS; a new SmtpPassword leaves the previous one working for
// Config.PreviousPasswordGrace.
func (s *Service) UpdateIngressPoint(ctx context.Context, in *mm.UpdateIngressPointRequest) (*mm.UpdateIngressPointResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	hash, err := passwordHash(in.IngressPointConfiguration)
	if err != nil {
		return nil, err
	}
	if err := s.checkSecret(ctx, acct, in.IngressPointConfiguration); err != nil {
		return nil, err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindIngressPoint, str(in.IngressPointId))
		if err != nil {
			return err
		}
		rec, err := DecodeIngressPoint(r)
		if err != nil {
			return err
		}
		if in.IngressPointName != nil {
			if err := checkName(ctx, tx, acct, KindIngressPoint, *in.IngressPointName, r.ID); err != nil {
				return err
			}
			r.Name = *in.IngressPointName
		}
		if in.RuleSetId != nil {
			if err := requireRef(ctx, tx, acct, KindRuleSet, *in.RuleSetId); err != nil {
				return err
			}
			rec.RuleSetID = *in.RuleSetId
		}
		if in.TrafficPolicyId != nil {
			if err := requireRef(ctx, tx, acct, KindTrafficPolicy, *in.TrafficPolicyId); err != nil {
				return err
			}
			rec.TrafficPolicyID = *in.TrafficPolicyId
		}
		if in.StatusToUpdate != nil {
			switch rec.Status {
			case mm.IngressPointStatusActive, mm.IngressPointStatusClosed:
				rec.Status = mm.IngressPointStatus(*in.StatusToUpdate)
			default:
				return fault.Conflictf("Ingress point %s is %s", r.ID, rec.Status)
			}
		}
		if in.TlsPolicy != nil && *in.TlsPolicy != rec.TLSPolicy {
			if rec.TLSPolicy == mm.TlsPolicyFips {
				return fault.Invalidf("The FIPS TLS policy of an ingress point cannot be changed; create a new ingress point")
			}
			rec.TLSPolicy = *in.TlsPolicy
		}
		if err := checkTLSPolicy(rec); err != nil {
			return err
		}
		if c := in.IngressPointConfiguration; c != nil {
			if err := s.applyAuthConfig(rec, c, hash, false); err != nil {
				return err
			}
		}
		r.Refs = refList(rec.RuleSetID, rec.TrafficPolicyID)
		r.Body, r.UpdatedAt = encodeBody(rec), s.now()
		return tx.Update(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return &mm.UpdateIngressPointResponse{}, nil
}

// DeleteIngressPoint deletes an ingress point and frees its port.
func (s *Service) DeleteIngressPoint(ctx context.Context, in *mm.DeleteIngressPointRequest) (*mm.DeleteIngressPointResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	id := str(in.IngressPointId)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := get(ctx, tx, acct, KindIngressPoint, id); err != nil {
			return err
		}
		// Delete releases the port claim with the ingress point.
		return tx.Delete(ctx, acct, KindIngressPoint, id)
	})
	if err != nil {
		return nil, err
	}
	return &mm.DeleteIngressPointResponse{}, nil
}

// ListIngressPoints lists ingress points by ID.
func (s *Service) ListIngressPoints(ctx context.Context, in *mm.ListIngressPointsRequest) (*mm.ListIngressPointsResponse, error) {
	out := &mm.ListIngressPointsResponse{IngressPoints: []mm.IngressPoint{}}
	next, err := s.list(ctx, KindIngressPoint, in.NextToken, in.PageSize, func(r *Resource) error {
		rec, err := DecodeIngressPoint(r)
		if err != nil {
			return err
		}
		out.IngressPoints = append(out.IngressPoints, mm.IngressPoint{
			IngressPointId:   ptr(r.ID),
			IngressPointName: ptr(r.Name),
			ARecord:          ptr(hostPort(s.cfg.SMTPHost, rec.Port)),
			Status:           ptr(rec.Status),
			Type:             ptr(rec.Type),
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	return out, nil
}
