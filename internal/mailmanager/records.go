package mailmanager

import (
	"context"
	"time"

	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// The records below are the Body of each kind of Resource (JSON). They are
// exported for the packages that act on the configuration: the SMTP server
// (ingress points, traffic policies), the rule engine (rule sets, relays,
// archives, address lists). ID, name, ARN and timestamps live on Resource.

// TrafficPolicyRecord is the body of a traffic policy.
type TrafficPolicyRecord struct {
	DefaultAction       mm.AcceptAction
	MaxMessageSizeBytes *int64 `json:",omitempty"`
	PolicyStatements    []mm.PolicyStatement
	// Resolved maps each reference in the statements, as the user wrote it
	// (an address list ID or ARN, an add-on instance ARN), to the ID it
	// named when the policy was written.
	Resolved map[string]string `json:",omitempty"`
}

// RuleSetRecord is the body of a rule set.
type RuleSetRecord struct {
	Rules []mm.Rule
	// Resolved maps each reference in the rules, as the user wrote it (an
	// archive ID, name or ARN; a relay ID or ARN; an address list ID or
	// ARN; an add-on instance ARN), to the ID it named when the rule set
	// was written. Renaming an archive does not break a rule naming it.
	Resolved map[string]string `json:",omitempty"`
}

// IngressPointRecord is the body of an ingress point.
type IngressPointRecord struct {
	Type            mm.IngressPointType
	Status          mm.IngressPointStatus
	RuleSetID       string
	TrafficPolicyID string
	TLSPolicy       mm.TlsPolicy
	// NetworkConfiguration as given; nil means public, IPv4.
	NetworkConfiguration *mm.NetworkConfiguration `json:",omitempty"`
	// Port is the TCP port the ingress point listens on, on every node.
	Port int
	// Password of an AUTH ingress point configured with SmtpPassword.
	Password *PasswordRecord `json:",omitempty"`
	// SecretArn of an AUTH ingress point configured with a secret.
	SecretArn string `json:",omitempty"`
	// TrustStore of an MTLS ingress point.
	TrustStore *mm.TrustStore `json:",omitempty"`
}

// PasswordRecord keeps the SMTP password of an AUTH ingress point hashed,
// and the previous one for a grace period after a change.
type PasswordRecord struct {
	Hash            string
	Version         string
	PreviousHash    string    `json:",omitempty"`
	PreviousVersion string    `json:",omitempty"`
	PreviousExpires time.Time `json:",omitzero"`
}

// RelayRecord is the body of an SMTP relay.
type RelayRecord struct {
	ServerName     string
	ServerPort     int
	Authentication mm.RelayAuthentication
}

// ArchiveRecord is the body of an archive.
type ArchiveRecord struct {
	State     mm.ArchiveState
	Retention mm.RetentionPeriod
	KmsKeyArn string `json:",omitempty"`
	// PurgeAfter is set when the archive is PENDING_DELETION: the purge
	// job removes it then.
	PurgeAfter time.Time `json:",omitzero"`
}

// AddressListRecord is the body of an address list (its members are rows
// of their own).
type AddressListRecord struct{}

// ImportJobRecord is the body of an address list import job.
type ImportJobRecord struct {
	AddressListID string
	Name          string
	DataType      mm.ImportDataType
	// BlobKey is where the client uploads the file (PreSignedUrl).
	BlobKey      string
	PreSignedURL string
	Status       mm.ImportJobStatus
	Imported     int64
	Failed       int64
	// Rows is how many rows of the file the worker has processed, so that
	// a retried job resumes where the last attempt committed.
	Rows int64
	// Problems names the first rows that failed ("line 3: …").
	Problems  []string  `json:",omitempty"`
	Error     string    `json:",omitempty"`
	Started   time.Time `json:",omitzero"`
	Completed time.Time `json:",omitzero"`
}

// AddonSubscriptionRecord is the body of an add-on subscription.
type AddonSubscriptionRecord struct {
	AddonName string
}

// AddonInstanceRecord is the body of an add-on instance.
type AddonInstanceRecord struct {
	AddonSubscriptionID string
	AddonName           string
}

// DecodeTrafficPolicy, DecodeRuleSet, … decode the body of a Resource of
// their kind.
func DecodeTrafficPolicy(r *Resource) (*TrafficPolicyRecord, error) {
	return decodeBody[TrafficPolicyRecord](r)
}
func DecodeRuleSet(r *Resource) (*RuleSetRecord, error) { return decodeBody[RuleSetRecord](r) }
func DecodeIngressPoint(r *Resource) (*IngressPointRecord, error) {
	return decodeBody[IngressPointRecord](r)
}
func DecodeRelay(r *Resource) (*RelayRecord, error)     { return decodeBody[RelayRecord](r) }
func DecodeArchive(r *Resource) (*ArchiveRecord, error) { return decodeBody[ArchiveRecord](r) }
func DecodeImportJob(r *Resource) (*ImportJobRecord, error) {
	return decodeBody[ImportJobRecord](r)
}
func DecodeAddonInstance(r *Resource) (*AddonInstanceRecord, error) {
	return decodeBody[AddonInstanceRecord](r)
}

// Listener is an ingress point as the SMTP server needs it.
type Listener struct {
	AccountID string
	ID        string
	Name      string
	ARN       string
	Record    IngressPointRecord
}

// Listeners returns every ingress point of every account, whatever its
// status (the SMTP server accepts mail only on ACTIVE ones), ordered by
// account and ID. The SMTP server polls it to start and stop listeners.
func (s *Service) Listeners(ctx context.Context) ([]Listener, error) {
	var out []Listener
	err := s.store.InTx(ctx, func(tx Tx) error {
		rs, err := tx.ListAll(ctx, KindIngressPoint)
		if err != nil {
			return err
		}
		out = make([]Listener, 0, len(rs))
		for _, r := range rs {
			rec, err := DecodeIngressPoint(r)
			if err != nil {
				return err
			}
			out = append(out, Listener{AccountID: r.AccountID, ID: r.ID, Name: r.Name, ARN: r.ARN, Record: *rec})
		}
		return nil
	})
	return out, err
}

// Lookup returns one resource of an account, for the packages that act on
// the configuration (the rule engine reading a rule set, a relay, …).
func (s *Service) Lookup(ctx context.Context, accountID string, k Kind, id string) (*Resource, error) {
	var r *Resource
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		r, err = get(ctx, tx, accountID, k, id)
		return err
	})
	return r, err
}
