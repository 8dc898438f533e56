package apiroutes

import (
	"context"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/templates"
)

// SESv2Tags registers SES v2's TagResource, UntagResource and
// ListTagsForResource. The ARN names an identity or a configuration set
// (the sending service's) or a template (the templates service's).
func SESv2Tags(srv *awsapi.Server, s *sending.Service, t *templates.Service) {
	h := tagHandlers{s, t}
	awsapi.Handle(srv, sesv2.Service, "TagResource", h.tag)
	awsapi.Handle(srv, sesv2.Service, "UntagResource", h.untag)
	awsapi.Handle(srv, sesv2.Service, "ListTagsForResource", h.list)
}

type tagHandlers struct {
	s *sending.Service
	t *templates.Service
}

// update applies add and remove to the tags of the resource arn names.
func (h tagHandlers) update(ctx context.Context, arn string, add []sesv2.Tag, remove []string) error {
	typ, name, err := h.s.ParseARN(ctx, arn)
	if err != nil {
		return err
	}
	if err := sending.CheckTags(add); err != nil {
		return err
	}
	if typ != sending.ARNTemplate {
		return h.s.UpdateTags(ctx, typ, name, func(have []sesv2.Tag) ([]sesv2.Tag, error) {
			return sending.MergeTags(have, add, remove)
		})
	}
	acct, err := callerAccount(ctx)
	if err != nil {
		return err
	}
	return h.t.UpdateTags(ctx, acct, name, func(have []templates.Tag) ([]templates.Tag, error) {
		merged, err := sending.MergeTags(v2Tags(have), add, remove)
		if err != nil {
			return nil, err
		}
		out := make([]templates.Tag, 0, len(merged))
		for _, t := range merged {
			out = append(out, templates.Tag{Key: deref(t.Key), Value: deref(t.Value)})
		}
		return out, nil
	})
}

func v2Tags(tags []templates.Tag) []sesv2.Tag {
	out := make([]sesv2.Tag, 0, len(tags))
	for _, t := range tags {
		out = append(out, sesv2.Tag{Key: &t.Key, Value: &t.Value})
	}
	return out
}

func (h tagHandlers) tag(ctx context.Context, in *sesv2.TagResourceRequest) (*sesv2.TagResourceResponse, error) {
	if err := h.update(ctx, deref(in.ResourceArn), in.Tags, nil); err != nil {
		return nil, err
	}
	return &sesv2.TagResourceResponse{}, nil
}

func (h tagHandlers) untag(ctx context.Context, in *sesv2.UntagResourceRequest) (*sesv2.UntagResourceResponse, error) {
	if err := h.update(ctx, deref(in.ResourceArn), nil, in.TagKeys); err != nil {
		return nil, err
	}
	return &sesv2.UntagResourceResponse{}, nil
}

func (h tagHandlers) list(ctx context.Context, in *sesv2.ListTagsForResourceRequest) (*sesv2.ListTagsForResourceResponse, error) {
	typ, name, err := h.s.ParseARN(ctx, deref(in.ResourceArn))
	if err != nil {
		return nil, err
	}
	if typ != sending.ARNTemplate {
		tags, err := h.s.ResourceTags(ctx, typ, name)
		if err != nil {
			return nil, err
		}
		return &sesv2.ListTagsForResourceResponse{Tags: tags}, nil
	}
	acct, err := callerAccount(ctx)
	if err != nil {
		return nil, err
	}
	tpl, err := h.t.Get(ctx, acct, name)
	if err != nil {
		return nil, err
	}
	return &sesv2.ListTagsForResourceResponse{Tags: v2Tags(tpl.Tags)}, nil
}
