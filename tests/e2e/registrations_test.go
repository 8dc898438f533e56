package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRegistrations drives the number registrations with boto3 (the
// definitions of the seed's toll-free post, bad inputs with their Reason
// and Fields) and the AWS CLI, and the reviewer's side with `tidings
// registrations`: a submitted registration is sent back for updates, fixed
// in a new version, resubmitted and approved.
func TestRegistrations(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})

	t.Run("boto3", func(t *testing.T) {
		t.Parallel()
		env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+accountID)
		runChecks(t, env, 8, pythonBin, scriptPath("e2e", "py", "registrations.py"))
	})
	t.Run("CLIAndReview", func(t *testing.T) { t.Parallel(); cliRegistrationReview(t, s) })
}

func cliRegistrationReview(t *testing.T, s *Server) {
	dir := t.TempDir()
	img := filepath.Join(dir, "optin.png")
	if err := os.WriteFile(img, tinyPNG(), 0o600); err != nil {
		t.Fatal(err)
	}
	const tfn = "US_TOLL_FREE_REGISTRATION"
	sv := func(args ...string) map[string]any {
		t.Helper()
		return s.AWS(t, append([]string{"pinpoint-sms-voice-v2"}, args...)...)
	}
	reg := sv("create-registration", "--registration-type", tfn, "--tags", "Key=Name,Value=cli")
	eqAt(t, reg, "RegistrationStatus", "CREATED")
	id := str(t, reg, "RegistrationId")
	if arn, want := str(t, reg, "RegistrationArn"), "arn:aws:sms-voice:"+region+":"+accountID+":registration/"+id; arn != want {
		t.Errorf("RegistrationArn %q, want %q", arn, want)
	}
	checkTimestamp(t, reg, "CreatedTimestamp")

	att := sv("create-registration-attachment", "--attachment-body", "fileb://"+img)
	eqAt(t, att, "AttachmentStatus", "UPLOAD_COMPLETE")
	attID := str(t, att, "RegistrationAttachmentId")
	// The text fields through boto3 in one process (an AWS CLI process per
	// call costs seconds here); the CLI does the rest.
	var puts []call
	for path, v := range map[string]string{
		"companyInfo.companyName": "AnyCompany", "companyInfo.website": "https://example.com",
		"companyInfo.address1": "123 Any Street", "companyInfo.city": "Anytown", "companyInfo.state": "WA",
		"companyInfo.zipCode": "98109", "companyInfo.isoCountryCode": "US",
		"contactInfo.firstName": "Jane", "contactInfo.lastName": "Doe",
		"contactInfo.supportEmail": "support@example.com", "contactInfo.supportPhoneNumber": "+12065550100",
		"messagingUseCase.useCaseDetails": "Sign-in codes", "messagingUseCase.optInDescription": "A box on the sign-up form",
		"messageSamples.messageSample1": "Your code is 123456",
	} {
		puts = append(puts, call{Service: "pinpoint-sms-voice-v2", Op: "put_registration_field_value",
			Params: map[string]any{"RegistrationId": id, "FieldPath": path, "TextValue": v}})
	}
	for _, out := range s.BatchOK(t, puts...) {
		eqAt(t, out, "VersionNumber", 1)
	}
	sv("put-registration-field-value", "--registration-id", id, "--field-path", "messagingUseCase.monthlyMessageVolume", "--select-choices", "10,000")
	sv("put-registration-field-value", "--registration-id", id, "--field-path", "messagingUseCase.useCaseCategory", "--select-choices", "One-time passcodes")
	sv("put-registration-field-value", "--registration-id", id, "--field-path", "messagingUseCase.optInImage", "--registration-attachment-id", attID)
	msg := s.AWSFail(t, "ValidationException", "pinpoint-sms-voice-v2", "put-registration-field-value", "--registration-id", id,
		"--field-path", "companyInfo.zipCode", "--text-value", "98 109")
	// A URL as a text value: AWS CLI v1 would fetch it (cli_follow_urlparam).
	s.awsV2(t, "pinpoint-sms-voice-v2", "put-registration-field-value", "--registration-id", id,
		"--field-path", "companyInfo.website", "--text-value", "https://example.com/signup")
	if !strings.Contains(msg, "companyInfo.zipCode") {
		t.Errorf("zip code error does not name the field: %s", msg)
	}
	// The phone number: with the SMS service in the build, requested;
	// before it, an id of AWS's shape (associations then take any id).
	phone := "phone-0123456789abcdef0123456789abcdef"
	if out, _, code := run(t, s.clientEnv("", ""), nil, awsBin, "--output", "json", "pinpoint-sms-voice-v2", "request-phone-number",
		"--iso-country-code", "US", "--number-type", "TOLL_FREE", "--number-capabilities", "SMS", "--message-type", "TRANSACTIONAL"); code == 0 {
		if m := regexp.MustCompile(`"PhoneNumberId":\s*"([^"]+)"`).FindStringSubmatch(out); m != nil {
			phone = m[1]
		}
	}
	a := sv("create-registration-association", "--registration-id", id, "--resource-id", phone)
	eqAt(t, a, "ResourceType", "PHONE_NUMBER")
	sub := sv("submit-registration-version", "--registration-id", id)
	eqAt(t, sub, "RegistrationVersionStatus", "SUBMITTED")

	// The reviewer's side.
	list := s.tidings(t, "registrations", "list", "--status", "SUBMITTED")
	if !strings.Contains(list, id) || !strings.Contains(list, phone) {
		t.Errorf("tidings registrations list --status SUBMITTED lacks %s with %s:\n%s", id, phone, list)
	}
	show := s.tidings(t, "registrations", "show", id)
	for _, want := range []string{"SUBMITTED", "companyInfo.zipCode", "98109", "10,000", "attachment " + attID} {
		if !strings.Contains(show, want) {
			t.Errorf("tidings registrations show lacks %q:\n%s", want, show)
		}
	}
	got := filepath.Join(dir, "downloaded.png")
	s.tidings(t, "registrations", "attachment", id, attID, "-o", got)
	if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, tinyPNG()) {
		t.Errorf("the downloaded opt-in image differs from the upload (%v)", err)
	}
	s.tidings(t, "registrations", "review", id, "--start-review")
	eqAt(t, sv("describe-registrations", "--registration-ids", id), "Registrations.0.RegistrationStatus", "REVIEWING")
	out := s.tidings(t, "registrations", "review", id, "--request-updates", "--reason", "Opt-in image unreadable",
		"--description", "Send a sharper screenshot of the form", "--field", "messagingUseCase.optInImage=too blurry")
	if !strings.Contains(out, "REQUIRES_UPDATES") {
		t.Errorf("review --request-updates: %s", out)
	}
	r := sv("describe-registrations", "--registration-ids", id)
	eqAt(t, r, "Registrations.0.RegistrationStatus", "REQUIRES_UPDATES")
	eqAt(t, r, "Registrations.0.LatestDeniedVersionNumber", 1)
	vs := sv("describe-registration-versions", "--registration-id", id)
	eqAt(t, vs, "RegistrationVersions.0.RegistrationVersionStatus", "DENIED")
	eqAt(t, vs, "RegistrationVersions.0.DeniedReasons.0.Reason", "Opt-in image unreadable")
	eqAt(t, vs, "RegistrationVersions.0.DeniedReasons.0.LongDescription", "Send a sharper screenshot of the form")
	checkTimestamp(t, vs, "RegistrationVersions.0.RegistrationVersionStatusHistory.DeniedTimestamp")
	fv := sv("describe-registration-field-values", "--registration-id", id, "--field-paths", "messagingUseCase.optInImage")
	eqAt(t, fv, "RegistrationFieldValues.0.DeniedReason", "too blurry")
	s.AWSFail(t, "ConflictException", "pinpoint-sms-voice-v2", "put-registration-field-value", "--registration-id", id,
		"--field-path", "companyInfo.city", "--text-value", "Elsewhere")

	// A new version, fixed and resubmitted.
	nv := sv("create-registration-version", "--registration-id", id)
	eqAt(t, nv, "VersionNumber", 2)
	eqAt(t, nv, "RegistrationVersionStatus", "DRAFT")
	att2 := str(t, sv("create-registration-attachment", "--attachment-body", "fileb://"+img), "RegistrationAttachmentId")
	sv("put-registration-field-value", "--registration-id", id, "--field-path", "messagingUseCase.optInImage", "--registration-attachment-id", att2)
	fv = sv("describe-registration-field-values", "--registration-id", id)
	if n := len(at(fv, "RegistrationFieldValues").([]any)); n != 17 {
		t.Errorf("version 2 has %d field values, want the 17 of version 1 carried over", n)
	}
	eqAt(t, sv("submit-registration-version", "--registration-id", id), "VersionNumber", 2)
	s.tidings(t, "registrations", "review", id, "--approve")
	r = sv("describe-registrations", "--registration-ids", id)
	eqAt(t, r, "Registrations.0.RegistrationStatus", "COMPLETE")
	eqAt(t, r, "Registrations.0.ApprovedVersionNumber", 2)
	eqAt(t, r, "Registrations.0.CurrentVersionNumber", 2)
	vs = sv("describe-registration-versions", "--registration-id", id)
	eqAt(t, vs, "RegistrationVersions.0.RegistrationVersionStatus", "APPROVED")
	eqAt(t, vs, "RegistrationVersions.1.RegistrationVersionStatus", "DENIED")

	// Reviewing is for the operator's account only, and only what is submitted.
	if _, errOut, code := s.tidingsRun(t, "registrations", "review", id, "--approve"); code == 0 || !strings.Contains(errOut, "Conflict") {
		t.Errorf("approving a COMPLETE registration again: exit %d %s", code, errOut)
	}
	other := s.otherAccountKey(t, "444455556666")
	if _, errOut, code := s.tidingsRunAs(t, other, "registrations", "list"); code == 0 || !strings.Contains(errOut, "AccessDenied") {
		t.Errorf("another account's key listed registrations: exit %d %s", code, errOut)
	}
	// … whose own API calls do not see this account's registrations.
	s.AWSFailAs(t, other[0], other[1], "ResourceNotFoundException", "pinpoint-sms-voice-v2", "describe-registrations", "--registration-ids", id)
}

// cliV2Env is s.clientEnv("", "") with an AWS CLI configuration that
// takes parameters as given, as AWS CLI v2 does: v1 fetches the content of
// a parameter that starts with http:// or https:// unless told not to.
func (s *Server) cliV2Env(t testing.TB) []string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "aws-config")
	if err := os.WriteFile(cfg, []byte("[default]\ncli_follow_urlparam = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(s.clientEnv("", ""), "AWS_CONFIG_FILE="+cfg)
}

// awsV2 is s.AWS with cliV2Env.
func (s *Server) awsV2(t testing.TB, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := run(t, s.cliV2Env(t), nil, awsBin, append([]string{"--output", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("aws %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return m
}

// tidings runs the tidings CLI against s with the root key; the test
// fails when it fails.
func (s *Server) tidings(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, code := s.tidingsRun(t, args...)
	if code != 0 {
		t.Fatalf("tidings %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (s *Server) tidingsRun(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	return s.tidingsRunAs(t, [2]string{}, args...)
}

func (s *Server) tidingsRunAs(t testing.TB, key [2]string, args ...string) (string, string, int) {
	t.Helper()
	return run(t, s.clientEnv(key[0], key[1]), nil, tidingsBin, args...)
}

var exportKeyRe = regexp.MustCompile(`AWS_ACCESS_KEY_ID=(\S+)[\s\S]*AWS_SECRET_ACCESS_KEY=(\S+)`)

// otherAccountKey creates a key of another account with `tidings keys`.
func (s *Server) otherAccountKey(t testing.TB, account string) [2]string {
	t.Helper()
	env := append(cleanEnv("TIDINGS_", "AWS_"), "TIDINGS_DATA_DIR="+s.DataDir, "TIDINGS_DATABASE_URL="+s.Opts.DatabaseURL)
	out, errOut, code := run(t, env, nil, tidingsBin, "keys", "create", "--account-id", account)
	m := exportKeyRe.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("tidings keys create --account-id %s: exit %d\n%s%s", account, code, out, errOut)
	}
	return [2]string{m[1], m[2]}
}

// TestRegistrationScripts runs the seed's two toll-free registration
// scripts (tests/e2e/testdata/tollfree: the bash one with the AWS CLI, the
// Python bulk one with boto3 and a CSV) unchanged against Tidings, pointed
// at it by AWS_ENDPOINT_URL; then the reviewer approves every registration
// with `tidings registrations review` and DescribeRegistrations shows them
// COMPLETE. The scripts request toll-free numbers (RequestPhoneNumber), so
// the test needs the SMS service in the build.
func TestRegistrationScripts(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			opts := serverOpts{}
			if db == "postgres" {
				opts.DatabaseURL = freshDatabase(t)
			}
			s := startServer(t, opts)
			if _, errOut, code := run(t, s.clientEnv("", ""), nil, awsBin, "pinpoint-sms-voice-v2", "request-phone-number",
				"--iso-country-code", "US", "--number-type", "TOLL_FREE", "--number-capabilities", "SMS",
				"--message-type", "TRANSACTIONAL"); code != 0 && strings.Contains(errOut, "NotImplemented") {
				t.Skip("RequestPhoneNumber is not in this build (the SMS service brings it); the scripts request numbers")
			}
			runTollFreeScripts(t, s)
		})
	}
}

func runTollFreeScripts(t *testing.T, s *Server) {
	dir := t.TempDir()
	src := filepath.Join(repoRoot, "tests", "e2e", "testdata", "tollfree")
	for _, f := range []string{"register_us_toll_free_number.sh", "register_phone_numbers_bulk.py", "data.csv"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"optInImage.png", "companyA.png", "companyB.png", "companyC.png", "companyD.png", "companyE.png"} {
		if err := os.WriteFile(filepath.Join(dir, f), tinyPNG(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// AWS CLI v1 reads a parameter that starts with https:// from that URL
	// (the website field!); the post's CloudShell runs CLI v2, which does
	// not. This setting of the user's CLI configuration makes v1 do the same.
	env := s.cliV2Env(t)
	// The script's `aws` is the real one, not a pyenv shim (which costs
	// as much again per call).
	env = append(env, "PATH="+filepath.Dir(awsBin)+string(os.PathListSeparator)+os.Getenv("PATH"))

	// The bash script, with the variables its post tells the user to export.
	bashEnv := append(env,
		"AWS_REGION="+region,
		"COMPANY_NAME=Your Company Name", "COMPANY_WEBSITE=https://www.yourcompany.com",
		"COMPANY_ADDRESS1=123 Main Street", "COMPANY_ADDRESS2=Suite 200", "COMPANY_CITY=Your City",
		"COMPANY_STATE=Your State", "COMPANY_ZIPCODE=12345", "COMPANY_COUNTRY_CODE=US",
		"CONTACT_FIRSTNAME=John", "CONTACT_LASTNAME=Doe", "CONTACT_EMAIL=support@yourcompany.com",
		"CONTACT_PHONE=+12065550100", "USECASE_DETAILS=Details about your use case",
		"OPTIN_DESCRIPTION=Description of opt-in process", "MONTHLY_MESSAGE_VOLUME=10",
		"USECASE_CATEGORY=Other", "MESSAGE_SAMPLE1=Sample message", "ATTACHMENT_BODY=fileb://optInImage.png",
	)
	out := runIn(t, dir, bashEnv, "bash", "./register_us_toll_free_number.sh")
	if !strings.Contains(out, "Registration submitted successfully!") {
		t.Fatalf("the bash script did not finish:\n%s", out)
	}
	m := regexp.MustCompile(`Registration ID: (registration-\w+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the bash script printed no registration ID:\n%s", out)
	}
	ids := []string{m[1]}

	// The Python bulk script, with its CSV. It reports errors by printing
	// them and goes on, so its output is what says whether it succeeded.
	out = runIn(t, dir, env, pythonBin, "register_phone_numbers_bulk.py", "-c", "data.csv", "-r", region)
	for _, company := range []string{"AnyCompany", "Example Corp", "AnyDepartment", "AnyOrganization", "AnyGovernment"} {
		if !strings.Contains(out, "Processing completed for: "+company) {
			t.Errorf("the bulk script did not complete %s", company)
		}
	}
	if strings.Contains(out, "Error") {
		t.Errorf("the bulk script reported errors:\n%s", out)
	}

	all := s.AWS(t, "pinpoint-sms-voice-v2", "describe-registrations")
	regs, _ := at(all, "Registrations").([]any)
	if len(regs) != 6 {
		t.Fatalf("%d registrations, want 6 (1 bash + 5 bulk): %s", len(regs), js(all))
	}
	for _, r := range regs {
		eqAt(t, r, "RegistrationStatus", "SUBMITTED")
		if id := str(t, r, "RegistrationId"); id != ids[0] {
			ids = append(ids, id)
		}
	}
	// What the bulk script put is there, e.g. the CSV's phone numbers.
	fv := s.AWS(t, "pinpoint-sms-voice-v2", "describe-registration-field-values", "--registration-id", ids[1],
		"--field-paths", "contactInfo.supportPhoneNumber", "messagingUseCase.optInImage")
	if len(at(fv, "RegistrationFieldValues").([]any)) != 2 {
		t.Errorf("bulk registration lacks its phone number or opt-in image: %s", js(fv))
	}
	for _, id := range ids {
		la := s.AWS(t, "pinpoint-sms-voice-v2", "list-registration-associations", "--registration-id", id)
		eqAt(t, la, "RegistrationAssociations.0.ResourceType", "PHONE_NUMBER")
		s.tidings(t, "registrations", "review", id, "--approve")
	}
	all = s.AWS(t, "pinpoint-sms-voice-v2", "describe-registrations", "--filters", "Name=registration-status,Values=COMPLETE")
	if regs, _ := at(all, "Registrations").([]any); len(regs) != 6 {
		t.Errorf("%d registrations COMPLETE after approval, want 6: %s", len(regs), js(all))
	}
}

// runIn runs a command in dir (the scripts read and write files there) and
// returns its combined output; the test fails when it exits non-zero.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	// The bash script runs the AWS CLI some 25 times: seconds each on a
	// loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// tinyPNG is a valid 1×1 PNG (RFC 2083): signature, IHDR, IDAT, IEND.
func tinyPNG() []byte {
	chunk := func(kind string, data []byte) []byte {
		var b bytes.Buffer
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(kind)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(kind), data...)))
		return b.Bytes()
	}
	ihdr := []byte{0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0}
	// zlib stream of the one scanline (filter 0, one RGB pixel), stored.
	idat := []byte{0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0x00, 0xff, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00}
	png := []byte("\x89PNG\r\n\x1a\n")
	png = append(png, chunk("IHDR", ihdr)...)
	png = append(png, chunk("IDAT", idat)...)
	return append(png, chunk("IEND", nil)...)
}
