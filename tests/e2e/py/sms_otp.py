"""End User Messaging SMS and voice with boto3 against Tidings: numbers,
pools, sender IDs, tags, configuration sets, the seed's send_otp_sms, the
simulator's success and failure numbers and their event records, opt-outs
and STOP, two-way, voice. Events are read back through Tidings' native
GET /v1/sms/messages/{id} (the configuration set's SNS destination
publishes them too once the events service is wired)."""

import json
import os
import time
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from common import ACCOUNT, ENDPOINT, KEY_ID, REGION, SECRET, check, client, eq, expect_error, main, unique

SUCCESS, FAILURE = "+14254147755", "+14254147167"
sms = client("pinpoint-sms-voice-v2")
raw = client("pinpoint-sms-voice-v2", validate=False)
STATE = {}


def native(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"} if data else {}
    req = AWSRequest(method=method, url=ENDPOINT.rstrip("/") + path, data=data, headers=h)
    SigV4Auth(Credentials(KEY_ID, SECRET), "sms-voice", REGION).add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=data, headers=dict(p.headers), method=method)
    with urllib.request.urlopen(r, timeout=30) as resp:
        return json.loads(resp.read())


def events_of(message_id, until_final=True, deadline=30):
    end = time.time() + deadline
    while True:
        m = native("GET", "/v1/sms/messages/" + message_id)
        if m["final"] or not until_final:
            return m
        assert time.time() < end, f"no final receipt for {message_id}: {m}"
        time.sleep(0.1)


def sim_number():
    if "number" not in STATE:
        out = sms.request_phone_number(IsoCountryCode="US", MessageType="TRANSACTIONAL",
                                       NumberCapabilities=["SMS", "VOICE"], NumberType="SIMULATOR")
        STATE["number"] = out
    return STATE["number"]


# The seed's send_otp_sms, unchanged but for the import it lacks.
def send_otp_sms(mobile_number, otp_code, user_id, region_name):
    import boto3
    message = f"""
    This is an AWS End User Messaging OTP message.

    Your one-time password is: {otp_code}.
    """

    try:
        aws_sms = boto3.client('pinpoint-sms-voice-v2')
        response = aws_sms.send_text_message(
            DestinationPhoneNumber=mobile_number,
            MessageBody=message,
            MessageType='TRANSACTIONAL'
        )
        return {'StatusCode': 200, 'Response': response['MessageId']}
    except ClientError as e:
        error_message = e.response['Error']['Message']
        return {'StatusCode': 500, 'Response': error_message}


@check
def phone_numbers():
    n = sim_number()
    eq("status", n["Status"], "ACTIVE")
    eq("type", n["NumberType"], "SIMULATOR")
    assert n["PhoneNumber"].startswith("+1"), n["PhoneNumber"]
    eq("opt-out list", n["OptOutListName"], "Default")
    got = sms.describe_phone_numbers(PhoneNumberIds=[n["PhoneNumberId"]])["PhoneNumbers"]
    eq("described", got[0]["PhoneNumber"], n["PhoneNumber"])
    got = sms.describe_phone_numbers(Filters=[{"Name": "number-type", "Values": ["SIMULATOR"]}])["PhoneNumbers"]
    assert any(x["PhoneNumberId"] == n["PhoneNumberId"] for x in got)
    got = sms.describe_phone_numbers(Filters=[{"Name": "number-type", "Values": ["TOLL_FREE"]}])["PhoneNumbers"]
    assert not any(x["PhoneNumberId"] == n["PhoneNumberId"] for x in got)
    # Pagination over several numbers.
    extra = [sms.request_phone_number(IsoCountryCode="US", MessageType="PROMOTIONAL", NumberCapabilities=["SMS"],
                                      NumberType=t)["PhoneNumberId"] for t in ("LONG_CODE", "TOLL_FREE", "TEN_DLC")]
    seen, token = [], None
    while True:
        kw = {"MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = sms.describe_phone_numbers(**kw)
        assert len(page["PhoneNumbers"]) <= 2
        seen += [x["PhoneNumberId"] for x in page["PhoneNumbers"]]
        token = page.get("NextToken")
        if not token:
            break
    for i in extra + [n["PhoneNumberId"]]:
        assert i in seen, (i, seen)
    eq("unique", len(seen), len(set(seen)))
    # Deletion protection.
    sms.update_phone_number(PhoneNumberId=extra[0], DeletionProtectionEnabled=True)
    e = expect_error("ConflictException", sms.release_phone_number, PhoneNumberId=extra[0])
    eq("reason", e.response.get("Reason"), "DELETION_PROTECTION_ENABLED")
    sms.update_phone_number(PhoneNumberId=extra[0], DeletionProtectionEnabled=False)
    for i in extra:
        eq("released", sms.release_phone_number(PhoneNumberId=i)["Status"], "DELETED")
    e = expect_error("ResourceNotFoundException", sms.describe_phone_numbers, PhoneNumberIds=[extra[0]])
    eq("resource type", e.response.get("ResourceType"), "phone-number")
    eq("resource id", e.response.get("ResourceId"), extra[0])
    expect_error("ValidationException", sms.request_phone_number, IsoCountryCode="GB", MessageType="TRANSACTIONAL",
                 NumberCapabilities=["SMS"], NumberType="SIMULATOR")


@check
def pools_sender_ids_tags():
    a = sms.request_phone_number(IsoCountryCode="US", MessageType="TRANSACTIONAL", NumberCapabilities=["SMS"], NumberType="LONG_CODE")
    b = sms.request_phone_number(IsoCountryCode="US", MessageType="TRANSACTIONAL", NumberCapabilities=["SMS"], NumberType="LONG_CODE")
    pool = sms.create_pool(OriginationIdentity=a["PhoneNumberArn"], IsoCountryCode="US", MessageType="TRANSACTIONAL",
                           Tags=[{"Key": "team", "Value": "otp"}])
    pid = pool["PoolId"]
    sms.associate_origination_identity(PoolId=pid, OriginationIdentity=b["PhoneNumberId"], IsoCountryCode="US")
    members = sms.list_pool_origination_identities(PoolId=pid)["OriginationIdentities"]
    eq("members", sorted(m["PhoneNumber"] for m in members), sorted([a["PhoneNumber"], b["PhoneNumber"]]))
    e = expect_error("ConflictException", sms.release_phone_number, PhoneNumberId=a["PhoneNumberId"])
    eq("reason", e.response.get("Reason"), "PHONE_NUMBER_ASSOCIATED_TO_POOL")
    sms.disassociate_origination_identity(PoolId=pid, OriginationIdentity=b["PhoneNumberId"], IsoCountryCode="US")
    e = expect_error("ConflictException", sms.disassociate_origination_identity, PoolId=pid,
                     OriginationIdentity=a["PhoneNumberId"], IsoCountryCode="US")
    eq("reason", e.response.get("Reason"), "LAST_PHONE_NUMBER")
    eq("tags", sms.list_tags_for_resource(ResourceArn=pool["PoolArn"])["Tags"], [{"Key": "team", "Value": "otp"}])
    sms.tag_resource(ResourceArn=pool["PoolArn"], Tags=[{"Key": "env", "Value": "test"}])
    sms.untag_resource(ResourceArn=pool["PoolArn"], TagKeys=["team"])
    eq("tags", sms.list_tags_for_resource(ResourceArn=pool["PoolArn"])["Tags"], [{"Key": "env", "Value": "test"}])
    eq("pool", sms.describe_pools(PoolIds=[pid])["Pools"][0]["PoolId"], pid)
    sms.delete_pool(PoolId=pid)
    expect_error("ResourceNotFoundException", sms.describe_pools, PoolIds=[pid])
    sid = sms.request_sender_id(SenderId="TIDINGS", IsoCountryCode="GB")
    got = sms.describe_sender_ids(SenderIds=[{"SenderId": "TIDINGS", "IsoCountryCode": "GB"}])["SenderIds"]
    eq("sender id", got[0]["SenderIdArn"], sid["SenderIdArn"])
    sms.release_sender_id(SenderId="TIDINGS", IsoCountryCode="GB")
    expect_error("ValidationException", sms.request_sender_id, SenderId="TIDINGS", IsoCountryCode="US")
    for x in (a, b):
        sms.release_phone_number(PhoneNumberId=x["PhoneNumberId"])


@check
def send_otp_sms_success_events():
    sim_number()
    cs = unique("otp-config-set")
    sms.create_configuration_set(ConfigurationSetName=cs)
    sms.create_event_destination(ConfigurationSetName=cs, EventDestinationName="all", MatchingEventTypes=["ALL"],
                                 SnsDestination={"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:sms-events"})
    got = sms.describe_configuration_sets(ConfigurationSetNames=[cs])["ConfigurationSets"][0]
    eq("destinations", got["EventDestinations"][0]["EventDestinationName"], "all")
    out = send_otp_sms(SUCCESS, "123456", "user-1", REGION)
    eq("status", out["StatusCode"], 200)
    m = events_of(out["Response"])
    types = [json.loads(json.dumps(e))["eventType"] for e in m["events"]]
    eq("event types", types, ["TEXT_SUCCESSFUL", "TEXT_DELIVERED"])
    ev = m["events"][-1]
    eq("isFinal", ev["isFinal"], True)
    eq("destination", ev["destinationPhoneNumber"], SUCCESS)
    # No origination identity named: a number of the account that can
    # reach the destination, here a simulator number.
    sims = {x["PhoneNumber"] for x in sms.describe_phone_numbers(
        Filters=[{"Name": "number-type", "Values": ["SIMULATOR"]}])["PhoneNumbers"]}
    assert ev["originationPhoneNumber"] in sims, (ev["originationPhoneNumber"], sims)
    eq("message id", ev["messageId"], out["Response"])
    eq("type", ev["messageType"], "TRANSACTIONAL")
    eq("country", ev["isoCountryCode"], "US")
    eq("parts", ev["totalMessageParts"], 1)
    # With the seed's recommended parameters: configuration set and Context.
    r = sms.send_text_message(DestinationPhoneNumber=SUCCESS, MessageBody="Your code is 654321", MessageType="TRANSACTIONAL",
                              ConfigurationSetName=cs, OriginationIdentity=STATE["number"]["PhoneNumber"],
                              Context={"user_id": "user-1"})
    ev = events_of(r["MessageId"])["events"][-1]
    eq("context", ev["context"], {"user_id": "user-1"})
    eq("configuration set", ev["configurationSetName"], cs)


@check
def failure_number_events():
    sim_number()
    r = sms.send_text_message(DestinationPhoneNumber=FAILURE, MessageBody="hello", MessageType="TRANSACTIONAL")
    m = events_of(r["MessageId"])
    ev = m["events"][-1]
    eq("event", ev["eventType"], "TEXT_CARRIER_UNREACHABLE")
    eq("isFinal", ev["isFinal"], True)


@check
def segments_and_limits():
    n = sim_number()
    r = sms.send_text_message(DestinationPhoneNumber=SUCCESS, MessageBody="x" * 161, OriginationIdentity=n["PhoneNumberId"])
    m = events_of(r["MessageId"])
    eq("segments", m["segments"], 2)
    eq("encoding", m["encoding"], "GSM")
    r = sms.send_text_message(DestinationPhoneNumber=SUCCESS, MessageBody="é" * 70 + "😀", OriginationIdentity=n["PhoneNumberId"])
    m = events_of(r["MessageId"])
    eq("encoding", m["encoding"], "UCS2")
    eq("segments", m["segments"], 2)
    e = expect_error("ValidationException", sms.send_text_message, DestinationPhoneNumber=SUCCESS, MessageBody="ж" * 631)
    eq("reason", e.response.get("Reason"), "MAXIMUM_SIZE_EXCEEDED")
    e = expect_error("ValidationException", sms.send_text_message, DestinationPhoneNumber=SUCCESS, MessageBody="hi",
                     MaxPrice="0.001")
    eq("reason", e.response.get("Reason"), "PRICE_OVER_THRESHOLD")
    expect_error("ValidationException", sms.send_text_message, DestinationPhoneNumber="+1555", MessageBody="hi")
    # A simulator number sends to simulator destinations only.
    expect_error("ValidationException", sms.send_text_message, DestinationPhoneNumber="+12065550123",
                 MessageBody="hi", OriginationIdentity=n["PhoneNumberId"])
    expect_error("ValidationException", sms.send_text_message, DestinationPhoneNumber="+33755512501",
                 MessageBody="hi", OriginationIdentity=n["PhoneNumberId"])
    r = sms.send_text_message(DestinationPhoneNumber=SUCCESS, MessageBody="dry", DryRun=True)
    assert r["MessageId"]
    e = expect_error("ResourceNotFoundException", sms.send_text_message, DestinationPhoneNumber=SUCCESS,
                     MessageBody="hi", OriginationIdentity="phone-00000000000000000000000000000000")
    eq("resource type", e.response.get("ResourceType"), "phone-number")


@check
def opt_out_stop_and_two_way():
    n = sms.request_phone_number(IsoCountryCode="US", MessageType="TRANSACTIONAL", NumberCapabilities=["SMS"], NumberType="SIMULATOR",
                                 OptOutListName="Default")
    lst = unique("list")
    sms.create_opt_out_list(OptOutListName=lst)
    sms.update_phone_number(PhoneNumberId=n["PhoneNumberId"], OptOutListName=lst, TwoWayEnabled=True,
                            TwoWayChannelArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:two-way")
    r = sms.send_text_message(DestinationPhoneNumber=SUCCESS, MessageBody="first", OriginationIdentity=n["PhoneNumberId"])
    events_of(r["MessageId"])
    # The person answers STOP: they go on the number's list, get the answer.
    native("POST", "/v1/sms/simulator/inbound", {"originationNumber": SUCCESS, "destinationNumber": n["PhoneNumber"],
                                                 "messageBody": "stop"})
    got = sms.describe_opted_out_numbers(OptOutListName=lst)["OptedOutNumbers"]
    eq("opted out", [(x["OptedOutNumber"], x["EndUserOptedOut"]) for x in got], [(SUCCESS, True)])
    e = expect_error("ConflictException", sms.send_text_message, DestinationPhoneNumber=SUCCESS, MessageBody="again",
                     OriginationIdentity=n["PhoneNumberId"])
    eq("reason", e.response.get("Reason"), "DESTINATION_PHONE_NUMBER_OPTED_OUT")
    sms.delete_opted_out_number(OptOutListName=lst, OptedOutNumber=SUCCESS)
    sms.send_text_message(DestinationPhoneNumber=SUCCESS, MessageBody="again", OriginationIdentity=n["PhoneNumberId"])
    sms.put_opted_out_number(OptOutListName=lst, OptedOutNumber="+12065550100")
    got = sms.describe_opted_out_numbers(OptOutListName=lst, Filters=[{"Name": "end-user-opted-out", "Values": ["false"]}])
    eq("manual", [x["OptedOutNumber"] for x in got["OptedOutNumbers"]], ["+12065550100"])
    # Keywords.
    kws = {k["Keyword"]: k["KeywordAction"] for k in sms.describe_keywords(OriginationIdentity=n["PhoneNumberId"])["Keywords"]}
    eq("default keywords", kws, {"HELP": "AUTOMATIC_RESPONSE", "STOP": "OPT_OUT"})
    sms.put_keyword(OriginationIdentity=n["PhoneNumberId"], Keyword="INFO", KeywordMessage="Tidings test line")
    sms.delete_keyword(OriginationIdentity=n["PhoneNumberId"], Keyword="INFO")
    e = expect_error("ConflictException", sms.delete_opt_out_list, OptOutListName=lst)
    sms.update_phone_number(PhoneNumberId=n["PhoneNumberId"], OptOutListName="Default", TwoWayEnabled=False)
    sms.delete_opt_out_list(OptOutListName=lst)
    expect_error("ResourceNotFoundException", sms.describe_opt_out_lists, OptOutListNames=[lst])
    sms.release_phone_number(PhoneNumberId=n["PhoneNumberId"])


@check
def spend_limits_and_bad_input():
    sms.set_text_message_spend_limit_override(MonthlyLimit=10)
    limits = {x["Name"]: x for x in sms.describe_spend_limits()["SpendLimits"]}
    eq("text limit", (limits["TEXT_MESSAGE_MONTHLY_SPEND_LIMIT"]["EnforcedLimit"], limits["TEXT_MESSAGE_MONTHLY_SPEND_LIMIT"]["Overridden"]), (10, True))
    eq("deleted", sms.delete_text_message_spend_limit_override()["MonthlyLimit"], 10)
    limits = {x["Name"]: x for x in sms.describe_spend_limits()["SpendLimits"]}
    eq("overridden", limits["TEXT_MESSAGE_MONTHLY_SPEND_LIMIT"]["Overridden"], False)
    # What the client would refuse, the server refuses too.
    expect_error("ValidationException", raw.send_text_message, MessageBody="hi")
    expect_error("ValidationException", raw.request_phone_number, IsoCountryCode="US", MessageType="BULK",
                 NumberCapabilities=["SMS"], NumberType="SIMULATOR")
    expect_error("ValidationException", raw.describe_phone_numbers, Filters=[{"Name": "colour", "Values": ["red"]}])
    expect_error("ValidationException", sms.describe_phone_numbers, NextToken="bm90IGEgdG9rZW4")
    expect_error("ValidationException", sms.tag_resource, ResourceArn="arn:aws:sms-voice:us-east-1:999999999999:pool/pool-x",
                 Tags=[{"Key": "a", "Value": "b"}])


@check
def voice_message():
    n = sim_number()
    r = sms.send_voice_message(DestinationPhoneNumber=SUCCESS, OriginationIdentity=n["PhoneNumberId"],
                               MessageBody="<speak>Your code is <say-as interpret-as='digits'>1234</say-as></speak>",
                               MessageBodyTextType="SSML", VoiceId="JOANNA")
    m = events_of(r["MessageId"])
    eq("voice events", [e["eventType"] for e in m["events"]], ["VOICE_INITIATED", "VOICE_COMPLETED"])
    print(json.dumps({"voice_message_id": r["MessageId"]}), flush=True)


if __name__ == "__main__":
    main()
