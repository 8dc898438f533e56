package apiroutes

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/model/smithy"
	"github.com/tidings/tidings/internal/model/sts"
)

// STS registers the STS operations Tidings serves: who the caller is, and
// temporary credentials (AssumeRole for the roles of `tidings roles`,
// GetSessionToken), which every API then accepts with their session token.
func STS(srv *awsapi.Server, tokens *iam.STS) {
	awsapi.Handle(srv, sts.Service, "GetCallerIdentity", getCallerIdentity)
	awsapi.Handle(srv, sts.Service, "AssumeRole", func(ctx context.Context, in *sts.AssumeRoleRequest) (*sts.AssumeRoleResponse, error) {
		p, ok := iam.PrincipalFrom(ctx)
		if !ok {
			return nil, fault.AccessDeniedf("no caller")
		}
		// Session policies narrow a role's permissions; Tidings has no
		// permissions to narrow, but a policy that is not JSON is still
		// an error, as in STS.
		if in.Policy != nil && !json.Valid([]byte(*in.Policy)) {
			return nil, &awsapi.Error{Name: "MalformedPolicyDocumentException", Message: "The policy is not in the valid JSON format."}
		}
		sess, token, err := tokens.AssumeRole(ctx, p, iam.AssumeRoleInput{
			RoleARN:     *in.RoleArn,
			SessionName: *in.RoleSessionName,
			Duration:    durationOf(in.DurationSeconds),
		})
		if err != nil {
			return nil, err
		}
		return &sts.AssumeRoleResponse{
			Credentials:     credentialsOf(sess, token),
			AssumedRoleUser: &sts.AssumedRoleUser{Arn: &sess.ARN, AssumedRoleId: &sess.UserID},
			SourceIdentity:  in.SourceIdentity,
		}, nil
	})
	awsapi.Handle(srv, sts.Service, "GetSessionToken", func(ctx context.Context, in *sts.GetSessionTokenRequest) (*sts.GetSessionTokenResponse, error) {
		p, ok := iam.PrincipalFrom(ctx)
		if !ok {
			return nil, fault.AccessDeniedf("no caller")
		}
		sess, token, err := tokens.GetSessionToken(ctx, p, durationOf(in.DurationSeconds))
		if err != nil {
			return nil, err
		}
		return &sts.GetSessionTokenResponse{Credentials: credentialsOf(sess, token)}, nil
	})
}

func durationOf(seconds *int64) time.Duration {
	if seconds == nil {
		return 0
	}
	return time.Duration(*seconds) * time.Second
}

func credentialsOf(sess *iam.Session, token string) *sts.Credentials {
	return &sts.Credentials{
		AccessKeyId:     &sess.AccessKeyID,
		SecretAccessKey: &sess.SecretAccessKey,
		SessionToken:    &token,
		Expiration:      smithy.NewTime(sess.Expiration),
	}
}

func getCallerIdentity(ctx context.Context, _ *sts.GetCallerIdentityRequest) (*sts.GetCallerIdentityResponse, error) {
	p, ok := iam.PrincipalFrom(ctx)
	if !ok {
		return nil, fault.AccessDeniedf("no caller")
	}
	user := p.UserID
	switch {
	case user != "":
	case p.AccountID != "" && p.ARN == "arn:aws:iam::"+p.AccountID+":root":
		user = p.AccountID // AWS answers the account id as UserId for root
	default:
		user = p.AccessKeyID
	}
	return &sts.GetCallerIdentityResponse{Account: &p.AccountID, Arn: &p.ARN, UserId: &user}, nil
}
