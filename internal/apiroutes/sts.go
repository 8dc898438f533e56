package apiroutes

import (
	"context"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/model/sts"
)

// STS registers the STS operations Tidings serves. AssumeRole and the other
// credential operations come with role-based sending (the outbound issue).
func STS(srv *awsapi.Server) {
	awsapi.Handle(srv, sts.Service, "GetCallerIdentity", getCallerIdentity)
}

func getCallerIdentity(ctx context.Context, _ *sts.GetCallerIdentityRequest) (*sts.GetCallerIdentityResponse, error) {
	p, ok := iam.PrincipalFrom(ctx)
	if !ok {
		return nil, fault.AccessDeniedf("no caller")
	}
	user := p.AccessKeyID
	if p.AccountID != "" && p.ARN == "arn:aws:iam::"+p.AccountID+":root" {
		user = p.AccountID // AWS answers the account id as UserId for root
	}
	return &sts.GetCallerIdentityResponse{Account: &p.AccountID, Arn: &p.ARN, UserId: &user}, nil
}
