// Package apiroutes binds the operations of each AWS-compatible API to the
// domain methods that serve them, one line per operation.
package apiroutes

import (
	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/mailmanager"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// MailManager registers the Mail Manager control-plane operations. The
// archive search and export operations and GetArchiveMessage* come with the
// archive package and are not registered here.
func MailManager(srv *awsapi.Server, s *mailmanager.Service) {
	svc := mm.Service

	awsapi.Handle(srv, svc, "CreateTrafficPolicy", s.CreateTrafficPolicy)
	awsapi.Handle(srv, svc, "GetTrafficPolicy", s.GetTrafficPolicy)
	awsapi.Handle(srv, svc, "UpdateTrafficPolicy", s.UpdateTrafficPolicy)
	awsapi.Handle(srv, svc, "DeleteTrafficPolicy", s.DeleteTrafficPolicy)
	awsapi.Handle(srv, svc, "ListTrafficPolicies", s.ListTrafficPolicies)

	awsapi.Handle(srv, svc, "CreateRuleSet", s.CreateRuleSet)
	awsapi.Handle(srv, svc, "GetRuleSet", s.GetRuleSet)
	awsapi.Handle(srv, svc, "UpdateRuleSet", s.UpdateRuleSet)
	awsapi.Handle(srv, svc, "DeleteRuleSet", s.DeleteRuleSet)
	awsapi.Handle(srv, svc, "ListRuleSets", s.ListRuleSets)

	awsapi.Handle(srv, svc, "CreateIngressPoint", s.CreateIngressPoint)
	awsapi.Handle(srv, svc, "GetIngressPoint", s.GetIngressPoint)
	awsapi.Handle(srv, svc, "UpdateIngressPoint", s.UpdateIngressPoint)
	awsapi.Handle(srv, svc, "DeleteIngressPoint", s.DeleteIngressPoint)
	awsapi.Handle(srv, svc, "ListIngressPoints", s.ListIngressPoints)

	awsapi.Handle(srv, svc, "CreateRelay", s.CreateRelay)
	awsapi.Handle(srv, svc, "GetRelay", s.GetRelay)
	awsapi.Handle(srv, svc, "UpdateRelay", s.UpdateRelay)
	awsapi.Handle(srv, svc, "DeleteRelay", s.DeleteRelay)
	awsapi.Handle(srv, svc, "ListRelays", s.ListRelays)

	awsapi.Handle(srv, svc, "CreateArchive", s.CreateArchive)
	awsapi.Handle(srv, svc, "GetArchive", s.GetArchive)
	awsapi.Handle(srv, svc, "UpdateArchive", s.UpdateArchive)
	awsapi.Handle(srv, svc, "DeleteArchive", s.DeleteArchive)
	awsapi.Handle(srv, svc, "ListArchives", s.ListArchives)

	awsapi.Handle(srv, svc, "CreateAddressList", s.CreateAddressList)
	awsapi.Handle(srv, svc, "GetAddressList", s.GetAddressList)
	awsapi.Handle(srv, svc, "DeleteAddressList", s.DeleteAddressList)
	awsapi.Handle(srv, svc, "ListAddressLists", s.ListAddressLists)
	awsapi.Handle(srv, svc, "RegisterMemberToAddressList", s.RegisterMemberToAddressList)
	awsapi.Handle(srv, svc, "DeregisterMemberFromAddressList", s.DeregisterMemberFromAddressList)
	awsapi.Handle(srv, svc, "GetMemberOfAddressList", s.GetMemberOfAddressList)
	awsapi.Handle(srv, svc, "ListMembersOfAddressList", s.ListMembersOfAddressList)

	awsapi.Handle(srv, svc, "CreateAddressListImportJob", s.CreateAddressListImportJob)
	awsapi.Handle(srv, svc, "GetAddressListImportJob", s.GetAddressListImportJob)
	awsapi.Handle(srv, svc, "StartAddressListImportJob", s.StartAddressListImportJob)
	awsapi.Handle(srv, svc, "StopAddressListImportJob", s.StopAddressListImportJob)
	awsapi.Handle(srv, svc, "ListAddressListImportJobs", s.ListAddressListImportJobs)

	awsapi.Handle(srv, svc, "CreateAddonSubscription", s.CreateAddonSubscription)
	awsapi.Handle(srv, svc, "GetAddonSubscription", s.GetAddonSubscription)
	awsapi.Handle(srv, svc, "DeleteAddonSubscription", s.DeleteAddonSubscription)
	awsapi.Handle(srv, svc, "ListAddonSubscriptions", s.ListAddonSubscriptions)
	awsapi.Handle(srv, svc, "CreateAddonInstance", s.CreateAddonInstance)
	awsapi.Handle(srv, svc, "GetAddonInstance", s.GetAddonInstance)
	awsapi.Handle(srv, svc, "DeleteAddonInstance", s.DeleteAddonInstance)
	awsapi.Handle(srv, svc, "ListAddonInstances", s.ListAddonInstances)

	awsapi.Handle(srv, svc, "TagResource", s.TagResource)
	awsapi.Handle(srv, svc, "UntagResource", s.UntagResource)
	awsapi.Handle(srv, svc, "ListTagsForResource", s.ListTagsForResource)
}
