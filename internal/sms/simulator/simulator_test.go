package simulator_test

import (
	"testing"

	"github.com/tidings/tidings/internal/sms"
	"github.com/tidings/tidings/internal/sms/providertest"
	"github.com/tidings/tidings/internal/sms/simulator"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Harness{
		New:           func(t *testing.T) sms.Provider { return simulator.New(t.TempDir(), nil) },
		Deliverable:   "+14254147755",
		Undeliverable: "+14254147167",
		Origination:   "+12065550100",
	})
}
