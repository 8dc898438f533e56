package sms

import (
	"context"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// CarrierLookup describes a phone number from libphonenumber's metadata
// (nyaruka/phonenumbers), offline: its E.164 form, country, dialing code,
// type and, where the metadata has one, the carrier the number range was
// allocated to (porting is not seen; MCC and MNC are not known).
// libphonenumber cannot tell mobile from fixed numbers in some plans (the
// NANP): such a number is MOBILE when a mobile carrier is known for its
// range, else OTHER.
func (s *Service) CarrierLookup(ctx context.Context, in *sv.CarrierLookupRequest) (*sv.CarrierLookupResult, error) {
	if _, err := account(ctx); err != nil {
		return nil, err
	}
	raw := strings.TrimSpace(str(in.PhoneNumber))
	if !strings.HasPrefix(raw, "+") {
		return nil, invalid(sv.ValidationExceptionReasonInvalidParameter, "%q is not an E.164 phone number (+ and country code)", raw)
	}
	pn, err := phonenumbers.Parse(raw, "")
	if err != nil {
		return nil, invalid(sv.ValidationExceptionReasonCannotParse, "Cannot parse phone number %q: %v", raw, err)
	}
	out := &sv.CarrierLookupResult{E164PhoneNumber: ptr(phonenumbers.Format(pn, phonenumbers.E164)),
		DialingCountryCode: ptr(fmt.Sprint(pn.GetCountryCode()))}
	region := phonenumbers.GetRegionCodeForNumber(pn)
	if region != "" && region != "ZZ" && region != "001" {
		out.IsoCountryCode = ptr(region)
		if r, err := language.ParseRegion(region); err == nil {
			out.Country = ptr(display.English.Regions().Name(r))
		}
	}
	if _, sim := SimulatorDestinations[*out.E164PhoneNumber]; !sim && !phonenumbers.IsValidNumber(pn) {
		out.PhoneNumberType = ptr(sv.PhoneNumberTypeInvalid)
		return out, nil
	}
	carrier, _ := phonenumbers.GetCarrierForNumber(pn, "en")
	if carrier != "" {
		out.Carrier = ptr(carrier)
	}
	switch phonenumbers.GetNumberType(pn) {
	case phonenumbers.MOBILE:
		out.PhoneNumberType = ptr(sv.PhoneNumberTypeMobile)
	case phonenumbers.FIXED_LINE:
		out.PhoneNumberType = ptr(sv.PhoneNumberTypeLandline)
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		out.PhoneNumberType = ptr(sv.PhoneNumberTypeOther)
		if carrier != "" {
			out.PhoneNumberType = ptr(sv.PhoneNumberTypeMobile)
		}
	default:
		out.PhoneNumberType = ptr(sv.PhoneNumberTypeOther)
	}
	return out, nil
}
