package sms

// SimulatorDestinations are the destination simulator numbers AWS
// documents ("Simulator phone numbers in AWS End User Messaging SMS"):
// for each country one number whose messages succeed and one whose
// messages fail. The simulator provider carries every message to them and
// never leaves the machine.
//
//	country  success            failure
//	US       +14254147755       +14254147167
//	AU       +61455944038       +61455944039
//	AT       +43676800442031    +43676800442032
//	BE       +32460213922       +32460213923
//	CL       +56229140630       +56229140631
//	CZ       +420790542286      +420790542287
//	DK       +4525919410        +4525919215
//	EE       +37282720792       +37282720793
//	FI       +3584573979110     +3584573979111
//	FR       +33755512501       +33755512502
//	HK       +85257048426       +85257048854
//
// A success number yields TEXT_SUCCESSFUL then TEXT_DELIVERED (VOICE_
// INITIATED then VOICE_COMPLETED, MEDIA_SUCCESSFUL then MEDIA_DELIVERED);
// a failure number TEXT_CARRIER_UNREACHABLE (VOICE_FAILED,
// MEDIA_CARRIER_UNREACHABLE).
var SimulatorDestinations = map[string]SimulatorOutcome{
	"+14254147755": {"US", true}, "+14254147167": {"US", false},
	"+61455944038": {"AU", true}, "+61455944039": {"AU", false},
	"+43676800442031": {"AT", true}, "+43676800442032": {"AT", false},
	"+32460213922": {"BE", true}, "+32460213923": {"BE", false},
	"+56229140630": {"CL", true}, "+56229140631": {"CL", false},
	"+420790542286": {"CZ", true}, "+420790542287": {"CZ", false},
	"+4525919410": {"DK", true}, "+4525919215": {"DK", false},
	"+37282720792": {"EE", true}, "+37282720793": {"EE", false},
	"+3584573979110": {"FI", true}, "+3584573979111": {"FI", false},
	"+33755512501": {"FR", true}, "+33755512502": {"FR", false},
	"+85257048426": {"HK", true}, "+85257048854": {"HK", false},
}

// SimulatorOutcome is what a destination simulator number does.
type SimulatorOutcome struct {
	Country string
	Success bool
}
