"""End User Messaging SMS and voice with boto3 against Tidings: the account
(attributes, limits, the SMS sandbox), verified destination numbers and
their codes, resource policies, UpdateSenderId, message feedback,
CarrierLookup and protect configurations.

The server's carrier is the Go test's fake HTTP gateway: it appends each
message it is given to the file TIDINGS_E2E_SMS_OUTBOX (one JSON object a
line), where the verification codes are read back."""

import json
import os
import re
import time
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from common import ACCOUNT, ENDPOINT, KEY_ID, REGION, SECRET, check, client, eq, expect_error, main, unique

OUTBOX = os.environ["TIDINGS_E2E_SMS_OUTBOX"]
sms = client("pinpoint-sms-voice-v2")
raw = client("pinpoint-sms-voice-v2", validate=False)
STATE = {}
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                     "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                     "Action": "sms-voice:SendTextMessage", "Resource": "*"}]})


def native(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"} if data else {}
    req = AWSRequest(method=method, url=ENDPOINT.rstrip("/") + path, data=data, headers=h)
    SigV4Auth(Credentials(KEY_ID, SECRET), "sms-voice", REGION).add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=data, headers=dict(p.headers), method=method)
    with urllib.request.urlopen(r, timeout=30) as resp:
        return json.loads(resp.read())


def long_code():
    if "number" not in STATE:
        STATE["number"] = sms.request_phone_number(IsoCountryCode="US", MessageType="TRANSACTIONAL",
                                                   NumberCapabilities=["SMS", "VOICE"], NumberType="LONG_CODE",
                                                   InternationalSendingEnabled=True)
    return STATE["number"]


def carried(dest, deadline=30):
    """The texts the gateway got for dest, waiting for at least one more
    than STATE counted."""
    seen = STATE.setdefault("carried", {}).get(dest, 0)
    end = time.time() + deadline
    while True:
        got = []
        if os.path.exists(OUTBOX):
            with open(OUTBOX) as f:
                got = [m["text"] for m in map(json.loads, f) if m["dst"] == dest]
        if len(got) > seen:
            STATE["carried"][dest] = len(got)
            return got[-1]
        assert time.time() < end, f"the gateway got no new message for {dest}"
        time.sleep(0.05)


def limits():
    return {l["Name"]: (l["Used"], l["Max"]) for l in sms.describe_account_limits()["AccountLimits"]}


@check
def account_attributes_and_limits():
    attrs = sms.describe_account_attributes()["AccountAttributes"]
    eq("attributes", attrs, [{"Name": "ACCOUNT_TIER", "Value": "PRODUCTION"}])
    before = limits()
    eq("limit names", sorted(before), sorted(["PHONE_NUMBERS", "POOLS", "CONFIGURATION_SETS", "OPT_OUT_LISTS", "SENDER_IDS",
                                              "REGISTRATIONS", "REGISTRATION_ATTACHMENTS", "VERIFIED_DESTINATION_NUMBERS"]))
    eq("verified max", before["VERIFIED_DESTINATION_NUMBERS"][1], 10)
    sms.create_configuration_set(ConfigurationSetName=unique("limits"))
    sms.create_registration(RegistrationType="US_TOLL_FREE_REGISTRATION")
    after = limits()
    eq("configuration sets used", after["CONFIGURATION_SETS"][0], before["CONFIGURATION_SETS"][0] + 1)
    eq("registrations used", after["REGISTRATIONS"][0], before["REGISTRATIONS"][0] + 1)
    pages = list(sms.get_paginator("describe_account_limits").paginate())
    eq("pages", len(pages), 1)


@check
def sandbox_and_verification_codes():
    n = long_code()
    dest = "+12065550142"
    eq("tier", native("PUT", "/v1/sms/account", {"accountTier": "SANDBOXED"}), {"accountTier": "SANDBOXED"})
    try:
        eq("attribute", sms.describe_account_attributes()["AccountAttributes"][0]["Value"], "SANDBOXED")
        e = expect_error("ConflictException", sms.send_text_message, DestinationPhoneNumber=dest,
                         OriginationIdentity=n["PhoneNumberId"], MessageBody="before verification")
        eq("reason", e.response.get("Reason"), "DESTINATION_PHONE_NUMBER_NOT_VERIFIED")

        v = sms.create_verified_destination_number(DestinationPhoneNumber=dest, Tags=[{"Key": "team", "Value": "qa"}])
        eq("status", v["Status"], "PENDING")
        expect_error("ConflictException", sms.create_verified_destination_number, DestinationPhoneNumber=dest)
        vid = v["VerifiedDestinationNumberId"]

        out = sms.send_destination_number_verification_code(VerifiedDestinationNumberId=vid, VerificationChannel="TEXT")
        assert out["MessageId"]
        text = carried(dest)
        code = re.search(r"code is (\d{6})", text).group(1)
        wrong = "000000" if code != "000000" else "111111"
        e = expect_error("ValidationException", sms.verify_destination_number, VerifiedDestinationNumberId=vid, VerificationCode=wrong)
        eq("mismatch reason", e.response.get("Reason"), "VERIFICATION_CODE_MISMATCH")
        ok = sms.verify_destination_number(VerifiedDestinationNumberId=vid, VerificationCode=code)
        eq("verified", ok["Status"], "VERIFIED")
        e = expect_error("ConflictException", sms.verify_destination_number, VerifiedDestinationNumberId=vid, VerificationCode=code)
        eq("again", e.response.get("Reason"), "VERIFICATION_ALREADY_COMPLETE")

        sms.send_text_message(DestinationPhoneNumber=dest, OriginationIdentity=n["PhoneNumberId"], MessageBody="verified now")
        eq("carried", carried(dest), "verified now")

        other = sms.create_verified_destination_number(DestinationPhoneNumber="+12065550143")
        got = sms.describe_verified_destination_numbers(Filters=[{"Name": "status", "Values": ["VERIFIED"]}])["VerifiedDestinationNumbers"]
        eq("verified ones", [g["DestinationPhoneNumber"] for g in got], [dest])
        got = sms.describe_verified_destination_numbers(DestinationPhoneNumbers=["+12065550143"])["VerifiedDestinationNumbers"]
        eq("by number", got[0]["VerifiedDestinationNumberId"], other["VerifiedDestinationNumberId"])
        all_ = [g for p in sms.get_paginator("describe_verified_destination_numbers").paginate(PaginationConfig={"PageSize": 1})
                for g in p["VerifiedDestinationNumbers"]]
        eq("paged", len(all_), 2)
        eq("limit used", limits()["VERIFIED_DESTINATION_NUMBERS"][0], 2)
        e = expect_error("ResourceNotFoundException", sms.describe_verified_destination_numbers, VerifiedDestinationNumberIds=["verified-nope"])
        eq("resource type", e.response.get("ResourceType"), "verified-destination-number")

        d = sms.delete_verified_destination_number(VerifiedDestinationNumberId=vid)
        eq("deleted", d["DestinationPhoneNumber"], dest)
        sms.delete_verified_destination_number(VerifiedDestinationNumberId=other["VerifiedDestinationNumberId"])
        expect_error("ConflictException", sms.send_text_message, DestinationPhoneNumber=dest,
                     OriginationIdentity=n["PhoneNumberId"], MessageBody="deleted")
        expect_error("ValidationException", raw.send_destination_number_verification_code, VerifiedDestinationNumberId=vid,
                     VerificationChannel="CARRIER_PIGEON")
    finally:
        native("PUT", "/v1/sms/account", {"accountTier": "PRODUCTION"})
    eq("tier back", sms.describe_account_attributes()["AccountAttributes"][0]["Value"], "PRODUCTION")


@check
def resource_policies():
    n = long_code()
    arn = n["PhoneNumberArn"]
    got = sms.get_resource_policy(ResourceArn=arn)
    assert "Policy" not in got, got
    put = sms.put_resource_policy(ResourceArn=arn, Policy=POLICY)
    eq("put", put["Policy"], POLICY)
    eq("get", sms.get_resource_policy(ResourceArn=arn)["Policy"], POLICY)
    expect_error("ValidationException", sms.put_resource_policy, ResourceArn=arn, Policy="{not json")
    expect_error("ValidationException", raw.put_resource_policy, ResourceArn=arn, Policy="x" * 10001)
    e = expect_error("ResourceNotFoundException", sms.put_resource_policy,
                     ResourceArn=f"arn:aws:sms-voice:{REGION}:{ACCOUNT}:pool/pool-nope", Policy=POLICY)
    eq("resource type", e.response.get("ResourceType"), "pool")
    lst = sms.create_opt_out_list(OptOutListName=unique("policy"))
    sms.put_resource_policy(ResourceArn=lst["OptOutListArn"], Policy=POLICY)
    eq("deleted", sms.delete_resource_policy(ResourceArn=arn)["Policy"], POLICY)
    expect_error("ResourceNotFoundException", sms.delete_resource_policy, ResourceArn=arn)
    # The policy goes with its resource.
    sms.delete_opt_out_list(OptOutListName=lst["OptOutListName"])
    expect_error("ResourceNotFoundException", sms.get_resource_policy, ResourceArn=lst["OptOutListArn"])


@check
def update_sender_id():
    sid = unique("T")[:11].replace("-", "")
    sms.request_sender_id(SenderId=sid, IsoCountryCode="GB")
    out = sms.update_sender_id(SenderId=sid, IsoCountryCode="GB", DeletionProtectionEnabled=True)
    eq("protected", out["DeletionProtectionEnabled"], True)
    e = expect_error("ConflictException", sms.release_sender_id, SenderId=sid, IsoCountryCode="GB")
    eq("reason", e.response.get("Reason"), "DELETION_PROTECTION_ENABLED")
    got = sms.describe_sender_ids(SenderIds=[{"SenderId": sid, "IsoCountryCode": "GB"}])["SenderIds"][0]
    eq("described", got["DeletionProtectionEnabled"], True)
    sms.update_sender_id(SenderId=sid, IsoCountryCode="GB", DeletionProtectionEnabled=False)
    sms.release_sender_id(SenderId=sid, IsoCountryCode="GB")
    expect_error("ResourceNotFoundException", sms.update_sender_id, SenderId=sid, IsoCountryCode="GB", DeletionProtectionEnabled=True)


@check
def message_feedback():
    n = long_code()
    cs = unique("feedback")
    sms.create_configuration_set(ConfigurationSetName=cs)
    out = sms.set_default_message_feedback_enabled(ConfigurationSetName=cs, MessageFeedbackEnabled=True)
    eq("enabled", out["MessageFeedbackEnabled"], True)
    got = sms.describe_configuration_sets(ConfigurationSetNames=[cs])["ConfigurationSets"][0]
    eq("described", got["DefaultMessageFeedbackEnabled"], True)
    sent = sms.send_text_message(DestinationPhoneNumber="+12065550150", OriginationIdentity=n["PhoneNumberId"],
                                 MessageBody="Your code is 424242", ConfigurationSetName=cs)
    fb = sms.put_message_feedback(MessageId=sent["MessageId"], MessageFeedbackStatus="RECEIVED")
    eq("feedback", fb, {"MessageId": sent["MessageId"], "MessageFeedbackStatus": "RECEIVED", "ResponseMetadata": fb["ResponseMetadata"]})
    sms.put_message_feedback(MessageId=sent["MessageId"], MessageFeedbackStatus="FAILED")
    e = expect_error("ResourceNotFoundException", sms.put_message_feedback, MessageId="nope", MessageFeedbackStatus="RECEIVED")
    eq("resource type", e.response.get("ResourceType"), "message")
    expect_error("ValidationException", raw.put_message_feedback, MessageId=sent["MessageId"], MessageFeedbackStatus="MAYBE")


@check
def carrier_lookup():
    out = sms.carrier_lookup(PhoneNumber="+447400123456")
    eq("e164", out["E164PhoneNumber"], "+447400123456")
    eq("country", (out["IsoCountryCode"], out["Country"], out["DialingCountryCode"]), ("GB", "United Kingdom", "44"))
    eq("type", out["PhoneNumberType"], "MOBILE")
    eq("landline", sms.carrier_lookup(PhoneNumber="+33142685300")["PhoneNumberType"], "LANDLINE")
    eq("invalid", sms.carrier_lookup(PhoneNumber="+1206")["PhoneNumberType"], "INVALID")
    expect_error("ValidationException", raw.carrier_lookup, PhoneNumber="not a number")


@check
def protect_configurations():
    n = long_code()
    p = sms.create_protect_configuration(Tags=[{"Key": "k", "Value": "v"}])
    pid = p["ProtectConfigurationId"]
    eq("default", p["AccountDefault"], False)
    rs = sms.update_protect_configuration_country_rule_set(ProtectConfigurationId=pid, NumberCapability="SMS",
                                                             CountryRuleSetUpdates={"FR": {"ProtectStatus": "BLOCK"}})
    eq("FR", rs["CountryRuleSet"]["FR"]["ProtectStatus"], "BLOCK")
    got = sms.get_protect_configuration_country_rule_set(ProtectConfigurationId=pid, NumberCapability="SMS")
    eq("DE", got["CountryRuleSet"]["DE"]["ProtectStatus"], "ALLOW")
    eq("FR again", got["CountryRuleSet"]["FR"]["ProtectStatus"], "BLOCK")
    expect_error("ValidationException", sms.update_protect_configuration_country_rule_set, ProtectConfigurationId=pid,
                 NumberCapability="SMS", CountryRuleSetUpdates={"XX": {"ProtectStatus": "BLOCK"}})

    cs = unique("protected")
    sms.create_configuration_set(ConfigurationSetName=cs)
    sms.associate_protect_configuration(ConfigurationSetName=cs, ProtectConfigurationId=pid)
    eq("associated", sms.describe_configuration_sets(ConfigurationSetNames=[cs])["ConfigurationSets"][0]["ProtectConfigurationId"], pid)
    send = dict(OriginationIdentity=n["PhoneNumberId"], MessageBody="bonjour", ConfigurationSetName=cs)
    e = expect_error("ConflictException", sms.send_text_message, DestinationPhoneNumber="+33612345678", **send)
    eq("blocked", e.response.get("Reason"), "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION")
    sms.put_protect_configuration_rule_set_number_override(ProtectConfigurationId=pid, DestinationPhoneNumber="+33612345678", Action="ALLOW")
    sms.send_text_message(DestinationPhoneNumber="+33612345678", **send)
    eq("carried", carried("+33612345678"), "bonjour")
    sms.put_protect_configuration_rule_set_number_override(ProtectConfigurationId=pid, DestinationPhoneNumber="+12065550160", Action="BLOCK")
    e = expect_error("ConflictException", sms.send_text_message, DestinationPhoneNumber="+12065550160", **send)
    eq("override", e.response.get("Reason"), "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE")
    ov = sms.list_protect_configuration_rule_set_number_overrides(ProtectConfigurationId=pid,
                                                                   Filters=[{"Name": "action", "Values": ["BLOCK"]}])["RuleSetNumberOverrides"]
    eq("overrides", [(o["DestinationPhoneNumber"], o["Action"]) for o in ov], [("+12065550160", "BLOCK")])
    sms.delete_protect_configuration_rule_set_number_override(ProtectConfigurationId=pid, DestinationPhoneNumber="+12065550160")
    sms.send_text_message(DestinationPhoneNumber="+12065550160", **send)

    sms.set_account_default_protect_configuration(ProtectConfigurationId=pid)
    attrs = {a["Name"]: a["Value"] for a in sms.describe_account_attributes()["AccountAttributes"]}
    eq("default attribute", attrs.get("DEFAULT_PROTECT_CONFIGURATION_ID"), pid)
    e = expect_error("ConflictException", sms.send_text_message, DestinationPhoneNumber="+33612345679",
                     OriginationIdentity=n["PhoneNumberId"], MessageBody="no configuration set")
    eq("default blocks", e.response.get("Reason"), "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION")
    described = sms.describe_protect_configurations(ProtectConfigurationIds=[pid])["ProtectConfigurations"][0]
    eq("account default", described["AccountDefault"], True)
    sms.update_protect_configuration(ProtectConfigurationId=pid, DeletionProtectionEnabled=True)
    e = expect_error("ConflictException", sms.delete_protect_configuration, ProtectConfigurationId=pid)
    eq("protected", e.response.get("Reason"), "DELETION_PROTECTION_ENABLED")
    sms.update_protect_configuration(ProtectConfigurationId=pid, DeletionProtectionEnabled=False)
    e = expect_error("ConflictException", sms.delete_protect_configuration, ProtectConfigurationId=pid)
    eq("default", e.response.get("Reason"), "PROTECT_CONFIGURATION_IS_ACCOUNT_DEFAULT")
    sms.delete_account_default_protect_configuration()
    e = expect_error("ConflictException", sms.delete_protect_configuration, ProtectConfigurationId=pid)
    eq("associated", e.response.get("Reason"), "PROTECT_CONFIGURATION_ASSOCIATED_WITH_CONFIGURATION_SET")
    sms.disassociate_protect_configuration(ConfigurationSetName=cs, ProtectConfigurationId=pid)
    sms.delete_protect_configuration(ProtectConfigurationId=pid)
    e = expect_error("ResourceNotFoundException", sms.describe_protect_configurations, ProtectConfigurationIds=[pid])
    eq("resource type", e.response.get("ResourceType"), "protect-configuration")


if __name__ == "__main__":
    main()
