package apiroutes

import (
	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/sending"
)

// SES registers the SES v1 (awsQuery) operations of outbound email.
func SES(srv *awsapi.Server, s *sending.Service) {
}
