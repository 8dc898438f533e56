package config

import (
	"strings"
	"testing"
)

func TestDestinationLimits(t *testing.T) {
	c := validConfig()
	c.DestinationConcurrency = "gmail.com=5, *=30,Outlook.COM.=2"
	c.DestinationRate = "gmail.com=10,yahoo.com=0.5"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	l, err := c.DestinationLimitsValue()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		domain string
		conns  int
		rate   float64
	}{
		{"gmail.com", 5, 10},
		{"outlook.com", 2, 0},
		{"yahoo.com", 30, 0.5},
		{"example.org", 30, 0},
		{"*", 30, 0},
	} {
		if conns, rate := l.For(tc.domain); conns != tc.conns || rate != tc.rate {
			t.Errorf("%s: %d connections, %v a second; want %d, %v", tc.domain, conns, rate, tc.conns, tc.rate)
		}
	}
	if conns, rate := (DestinationLimits{}).For("gmail.com"); conns != 0 || rate != 0 {
		t.Errorf("unset: %d, %v; want the defaults (0, 0)", conns, rate)
	}

	for name, tc := range map[string]struct {
		conc, rate, want string
	}{
		"no pair":          {"gmail.com", "", "not domain=N"},
		"bad domain":       {"bad domain=3", "", "not domain=N"},
		"zero connections": {"gmail.com=0", "", "TIDINGS_DESTINATION_CONCURRENCY"},
		"fraction conns":   {"gmail.com=1.5", "", "whole number"},
		"zero rate":        {"", "gmail.com=0", "TIDINGS_DESTINATION_RATE"},
		"negative rate":    {"", "*=-1", "more than 0"},
		"word rate":        {"", "gmail.com=fast", "messages a second"},
	} {
		c := validConfig()
		c.DestinationConcurrency, c.DestinationRate = tc.conc, tc.rate
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, tc.want)
		}
	}
}
