package registrations

import (
	"bytes"
	"context"
	"slices"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/smithy"
	T "github.com/tidings/tidings/internal/model/smsvoice"
)

// MaxAttachmentBytes is the largest attachment carriers take (500 KB).
const MaxAttachmentBytes = 500 * 1024

const resAttachment = "registration-attachment"

// SniffAttachment returns the media type of an attachment from its first
// bytes (its name says nothing: the API has none), or "" when it is not
// one of the types carriers take: PNG, JPEG or PDF.
func SniffAttachment(b []byte) string {
	switch {
	// PNG: the 8-byte signature (RFC 2083 3.1).
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	// JPEG: SOI marker then the first segment's marker (JFIF APP0, Exif
	// APP1, a quantization table…): FF D8 FF.
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg"
	// PDF: the header "%PDF-" (ISO 32000-1 7.5.2), which readers also
	// accept a little after the start; AWS-style uploads put it first.
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "application/pdf"
	}
	return ""
}

func (s *Service) CreateRegistrationAttachment(ctx context.Context, in *T.CreateRegistrationAttachmentRequest) (*T.CreateRegistrationAttachmentResult, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case in.AttachmentBody != nil && in.AttachmentUrl != nil:
		return nil, invalid("PARAMETERS_CANNOT_BE_USED_TOGETHER", "give AttachmentBody or AttachmentUrl, not both")
	case in.AttachmentUrl != nil:
		// AWS reads an S3 object here; Tidings does not fetch URLs (no
		// S3 of the caller's to read, and fetching arbitrary URLs from
		// the server would be a request forgery channel).
		return nil, invalid("INVALID_PARAMETER", "AttachmentUrl is not supported by Tidings: send the file's bytes as AttachmentBody")
	case len(in.AttachmentBody) == 0:
		return nil, invalid("MISSING_PARAMETER", "AttachmentBody is required")
	}
	body := in.AttachmentBody
	if len(body) > MaxAttachmentBytes {
		return nil, invalid("MAXIMUM_SIZE_EXCEEDED", "the attachment is %d bytes; at most %d (500 KB) are accepted", len(body), MaxAttachmentBytes)
	}
	ctype := SniffAttachment(body)
	if ctype == "" {
		return nil, invalid("ATTACHMENT_TYPE_NOT_SUPPORTED", "the attachment is not a PNG, JPEG or PDF file (judged from its content)")
	}
	id := newID("attachment-")
	key := "registration-attachments/" + acct + "/" + id
	// The bytes are durable before the row says UPLOAD_COMPLETE.
	bi, err := s.blobs.Put(ctx, key, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	a := &Attachment{AccountID: acct, ID: id, Status: string(T.AttachmentStatusUploadComplete), CreatedAt: s.now(),
		BlobKey: key, ContentType: ctype, Size: int64(len(body)), SHA256: bi.SHA256, Tags: tagsIn(in.Tags)}
	if err := s.store.InsertAttachment(ctx, a); err != nil {
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.log.Warn("registration attachment blob left behind", "key", key, "err", derr)
		}
		return nil, err
	}
	s.log.Info("registration attachment stored", "account", acct, "attachment", id, "type", ctype, "bytes", len(body))
	return &T.CreateRegistrationAttachmentResult{
		RegistrationAttachmentArn: ptr(s.arn(acct, resAttachment, id)), RegistrationAttachmentId: ptr(id),
		AttachmentStatus: ptr(T.AttachmentStatus(a.Status)), CreatedTimestamp: smithy.NewTime(a.CreatedAt),
		Tags: tagsOut(a.Tags),
	}, nil
}

func (s *Service) attachmentInfo(a *Attachment) T.RegistrationAttachmentsInformation {
	return T.RegistrationAttachmentsInformation{
		RegistrationAttachmentArn: ptr(s.arn(a.AccountID, resAttachment, a.ID)), RegistrationAttachmentId: ptr(a.ID),
		AttachmentStatus: ptr(T.AttachmentStatus(a.Status)), CreatedTimestamp: smithy.NewTime(a.CreatedAt),
	}
}

func (s *Service) DescribeRegistrationAttachments(ctx context.Context, in *T.DescribeRegistrationAttachmentsRequest) (*T.DescribeRegistrationAttachmentsResult, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := decodeToken(in.NextToken, "attachments")
	if err != nil {
		return nil, err
	}
	n := pageSize(in.MaxResults)
	f := AttachmentFilter{AccountID: acct, After: tok.cursor(), Limit: n + 1}
	for _, id := range in.RegistrationAttachmentIds {
		f.IDs = append(f.IDs, idOf(id))
	}
	for _, flt := range in.Filters {
		f.Statuses = append(f.Statuses, flt.Values...)
	}
	list, err := s.store.ListAttachments(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(f.IDs) > 0 && tok.ID == "" && len(in.Filters) == 0 {
		for _, id := range f.IDs {
			if !slices.ContainsFunc(list, func(a *Attachment) bool { return a.ID == id }) {
				return nil, &fault.Error{Kind: fault.NotFound, ResourceType: resAttachment, ResourceID: id,
					Message: "registration attachment " + id + " does not exist"}
			}
		}
	}
	out := &T.DescribeRegistrationAttachmentsResult{RegistrationAttachments: []T.RegistrationAttachmentsInformation{}}
	if len(list) > n {
		list = list[:n]
		last := list[n-1]
		out.NextToken = encodeToken(pageToken{List: "attachments", At: last.CreatedAt.UnixMilli(), ID: last.ID})
	}
	for _, a := range list {
		out.RegistrationAttachments = append(out.RegistrationAttachments, s.attachmentInfo(a))
	}
	return out, nil
}

func (s *Service) DeleteRegistrationAttachment(ctx context.Context, in *T.DeleteRegistrationAttachmentRequest) (*T.DeleteRegistrationAttachmentResult, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	id := idOf(*in.RegistrationAttachmentId)
	a, err := s.store.GetAttachment(ctx, acct, id)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteAttachment(ctx, acct, id); err != nil {
		return nil, err
	}
	// The row went first: a blob left behind by a failure here is only
	// space, never an attachment that says complete without its bytes.
	if err := s.blobs.Delete(ctx, a.BlobKey); err != nil && !fault.Is(err, fault.NotFound) {
		s.log.Warn("registration attachment blob left behind", "key", a.BlobKey, "err", err)
	}
	info := s.attachmentInfo(a)
	return &T.DeleteRegistrationAttachmentResult{
		RegistrationAttachmentArn: info.RegistrationAttachmentArn, RegistrationAttachmentId: info.RegistrationAttachmentId,
		AttachmentStatus: ptr(T.AttachmentStatusDeleted), CreatedTimestamp: info.CreatedTimestamp,
	}, nil
}
