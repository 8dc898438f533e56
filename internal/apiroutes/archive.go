package apiroutes

import (
	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/awsapi"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// Archive registers the Mail Manager archive operations: searches,
// exports and archived messages. The archive resources themselves
// (CreateArchive, …) are in MailManager.
func Archive(srv *awsapi.Server, s *archive.Service) {
	svc := mm.Service

	awsapi.Handle(srv, svc, "StartArchiveSearch", s.StartArchiveSearch)
	awsapi.Handle(srv, svc, "GetArchiveSearch", s.GetArchiveSearch)
	awsapi.Handle(srv, svc, "GetArchiveSearchResults", s.GetArchiveSearchResults)
	awsapi.Handle(srv, svc, "StopArchiveSearch", s.StopArchiveSearch)
	awsapi.Handle(srv, svc, "ListArchiveSearches", s.ListArchiveSearches)

	awsapi.Handle(srv, svc, "StartArchiveExport", s.StartArchiveExport)
	awsapi.Handle(srv, svc, "GetArchiveExport", s.GetArchiveExport)
	awsapi.Handle(srv, svc, "StopArchiveExport", s.StopArchiveExport)
	awsapi.Handle(srv, svc, "ListArchiveExports", s.ListArchiveExports)

	awsapi.Handle(srv, svc, "GetArchiveMessage", s.GetArchiveMessage)
	awsapi.Handle(srv, svc, "GetArchiveMessageContent", s.GetArchiveMessageContent)
}
