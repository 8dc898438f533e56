package mailmanager

import (
	"context"
	"sort"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// maxTags is the most tags a resource may carry (the model's TagList bound).
const maxTags = 200

// tagMap checks the tags of a request and returns them as a map: keys are
// unique within the request and none starts with the reserved "aws:".
func tagMap(tags []mm.Tag) (map[string]string, error) {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		k, v := str(t.Key), str(t.Value)
		if err := checkTagKey(k); err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, fault.Invalidf("Duplicate tag key %q", k)
		}
		m[k] = v
	}
	if len(m) > maxTags {
		return nil, fault.Invalidf("A resource can have at most %d tags", maxTags)
	}
	return m, nil
}

func checkTagKey(k string) error {
	if k == "" {
		return fault.Invalidf("Tag keys must not be empty")
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return fault.Invalidf("Tag key %q uses the reserved prefix aws:", k)
	}
	return nil
}

func tagList(m map[string]string) []mm.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]mm.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, mm.Tag{Key: ptr(k), Value: ptr(m[k])})
	}
	return out
}

// setTags stores the tags of a new resource.
func setTags(ctx context.Context, tx Tx, accountID, arn string, tags map[string]string) error {
	if len(tags) == 0 {
		return nil
	}
	return tx.SetTags(ctx, accountID, arn, tags)
}

// taggable resolves the ARN of a tag operation to the resource it names.
func (s *Service) taggable(ctx context.Context, tx Tx, accountID, arn string) (*Resource, error) {
	k, id, ok := s.parseARN(accountID, arn)
	if !ok {
		return nil, fault.NotFoundf("Resource %s does not exist", arn)
	}
	r, err := tx.Get(ctx, accountID, k, id)
	if fault.Is(err, fault.NotFound) {
		return nil, fault.NotFoundf("Resource %s does not exist", arn)
	}
	return r, err
}

// TagResource adds or overwrites tags of a resource. On an ingress point the
// tag tidings:port moves it to that port (see CreateIngressPoint).
func (s *Service) TagResource(ctx context.Context, in *mm.TagResourceRequest) (*mm.TagResourceResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	add, err := tagMap(in.Tags)
	if err != nil {
		return nil, err
	}
	arn := str(in.ResourceArn)
	err = s.withPortRetry(ctx, func(tx Tx) error {
		r, err := s.taggable(ctx, tx, acct, arn)
		if err != nil {
			return err
		}
		have, err := tx.Tags(ctx, acct, arn)
		if err != nil {
			return err
		}
		n := len(have)
		for k := range add {
			if _, ok := have[k]; !ok {
				n++
			}
		}
		if n > maxTags {
			return fault.QuotaExceededf("A resource can have at most %d tags; this would make %d", maxTags, n)
		}
		if v, ok := add[PortTag]; ok && r.Kind == KindIngressPoint {
			if err := s.movePort(ctx, tx, r, v); err != nil {
				return err
			}
		}
		return tx.SetTags(ctx, acct, arn, add)
	})
	if err != nil {
		return nil, err
	}
	return &mm.TagResourceResponse{}, nil
}

// UntagResource removes tags of a resource. Removing tidings:port from an
// ingress point keeps its port.
func (s *Service) UntagResource(ctx context.Context, in *mm.UntagResourceRequest) (*mm.UntagResourceResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range in.TagKeys {
		if err := checkTagKey(k); err != nil {
			return nil, err
		}
	}
	arn := str(in.ResourceArn)
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := s.taggable(ctx, tx, acct, arn); err != nil {
			return err
		}
		return tx.RemoveTags(ctx, acct, arn, in.TagKeys)
	})
	if err != nil {
		return nil, err
	}
	return &mm.UntagResourceResponse{}, nil
}

// ListTagsForResource returns the tags of a resource, sorted by key.
func (s *Service) ListTagsForResource(ctx context.Context, in *mm.ListTagsForResourceRequest) (*mm.ListTagsForResourceResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	arn := str(in.ResourceArn)
	var tags map[string]string
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := s.taggable(ctx, tx, acct, arn); err != nil {
			return err
		}
		tags, err = tx.Tags(ctx, acct, arn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &mm.ListTagsForResourceResponse{Tags: tagList(tags)}, nil
}
