package sending

import (
	"context"
	"slices"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
)

// Tags of SES v2 resources, named by ARN (TagResource, UntagResource,
// ListTagsForResource): arn:aws:ses:<region>:<account>:<type>/<name>.
// Identities and configuration sets keep theirs in their records;
// templates are the templates package's (apiroutes joins the two).

// MaxTags is the most tags an SES resource may carry.
const MaxTags = 50

// Taggable resource types of an SES ARN.
const (
	ARNIdentity  = "identity"
	ARNConfigSet = "configuration-set"
	ARNTemplate  = "template"
)

// ParseARN returns the type and name of the resource an SES v2 ARN names
// in the caller's account and this region; fault.NotFound when it names
// none that can exist here, fault.Invalid when it is no ARN.
func (s *Service) ParseARN(ctx context.Context, arn string) (typ, name string, err error) {
	acct, err := account(ctx)
	if err != nil {
		return "", "", err
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "ses" {
		return "", "", fault.Invalidf("Invalid ResourceArn %q: want arn:aws:ses:<region>:<account>:<type>/<name>", arn)
	}
	typ, name, ok := strings.Cut(parts[5], "/")
	notFound := &fault.Error{Kind: fault.NotFound, Message: "Resource " + arn + " does not exist.", ResourceID: arn}
	if !ok || name == "" || parts[3] != s.cfg.Region || parts[4] != acct {
		return "", "", notFound
	}
	switch typ {
	case ARNIdentity, ARNConfigSet, ARNTemplate:
		return typ, name, nil
	}
	return "", "", notFound
}

// CheckTags checks tags to add: at most MaxTags, keys of 1 to 128
// characters, not starting with aws:, each once; values of at most 256.
func CheckTags(tags []sesv2.Tag) error {
	if len(tags) > MaxTags {
		return fault.Invalidf("A resource can have at most %d tags; this would make %d", MaxTags, len(tags))
	}
	seen := map[string]bool{}
	for _, t := range tags {
		k := str(t.Key)
		switch {
		case k == "" || len(k) > 128:
			return fault.Invalidf("Tag key %q must have 1 to 128 characters", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return fault.Invalidf("Tag key %q uses the reserved prefix aws:", k)
		case len(str(t.Value)) > 256:
			return fault.Invalidf("The value of tag %q has more than 256 characters", k)
		case seen[k]:
			return fault.Invalidf("Duplicate tag key %q", k)
		}
		seen[k] = true
	}
	return nil
}

// MergeTags returns have with add set (a key present is overwritten) and
// the keys of remove gone, or fault.Invalid past MaxTags.
func MergeTags(have, add []sesv2.Tag, remove []string) ([]sesv2.Tag, error) {
	out := slices.Clone(have)
	for _, t := range add {
		i := slices.IndexFunc(out, func(h sesv2.Tag) bool { return str(h.Key) == str(t.Key) })
		if i >= 0 {
			out[i] = t
		} else {
			out = append(out, t)
		}
	}
	out = slices.DeleteFunc(out, func(t sesv2.Tag) bool { return slices.Contains(remove, str(t.Key)) })
	if len(out) > MaxTags {
		return nil, fault.Invalidf("A resource can have at most %d tags; this would make %d", MaxTags, len(out))
	}
	return out, nil
}

// UpdateTags replaces the tags of the caller's identity or configuration
// set name (typ ARNIdentity or ARNConfigSet) with what fn makes of them.
func (s *Service) UpdateTags(ctx context.Context, typ, name string, fn func([]sesv2.Tag) ([]sesv2.Tag, error)) error {
	switch typ {
	case ARNIdentity:
		_, err := s.updateIdentity(ctx, name, func(_ context.Context, _ Tx, _ string, r *identityRecord) error {
			tags, err := fn(r.Tags)
			r.Tags = tags
			return err
		})
		return err
	case ARNConfigSet:
		return s.updateConfigSet(ctx, name, func(c *configSetRecord) error {
			tags, err := fn(c.Tags)
			c.Tags = tags
			return err
		})
	}
	return fault.NotFoundf("Resource %s/%s does not exist.", typ, name)
}

// ResourceTags returns the tags of the caller's identity or configuration
// set name.
func (s *Service) ResourceTags(ctx context.Context, typ, name string) ([]sesv2.Tag, error) {
	var tags []sesv2.Tag
	switch typ {
	case ARNIdentity:
		acct, err := account(ctx)
		if err != nil {
			return nil, err
		}
		_, _, rec, err := s.getIdentity(ctx, acct, name)
		if err != nil {
			return nil, err
		}
		tags = rec.Tags
	case ARNConfigSet:
		c, err := s.callerConfigSet(ctx, name)
		if err != nil {
			return nil, err
		}
		tags = c.Tags
	default:
		return nil, fault.NotFoundf("Resource %s/%s does not exist.", typ, name)
	}
	if tags == nil {
		tags = []sesv2.Tag{}
	}
	return tags, nil
}
