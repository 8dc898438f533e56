package registrations

import "context"

// CountRegistrations returns how many registrations and attachments an
// account has (the REGISTRATIONS and REGISTRATION_ATTACHMENTS of End User
// Messaging's DescribeAccountLimits). Deleted attachments are not counted.
func (s *Service) CountRegistrations(ctx context.Context, accountID string) (registrations, attachments int64, err error) {
	regs, err := s.store.ListRegistrations(ctx, ListFilter{AccountID: accountID})
	if err != nil {
		return 0, 0, err
	}
	atts, err := s.store.ListAttachments(ctx, AttachmentFilter{AccountID: accountID})
	if err != nil {
		return 0, 0, err
	}
	for _, a := range atts {
		if a.Status != "DELETED" {
			attachments++
		}
	}
	return int64(len(regs)), attachments, nil
}
