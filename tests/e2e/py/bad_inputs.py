"""Bad input must get the exception AWS would answer, from the server's own
validation (parameter_validation=False keeps botocore out of the way)."""

import datetime
import json

from botocore.exceptions import ClientError

from common import (ACCOUNT, KEY_ID, check, client, eq, error_code, error_message,
                    expect_error, main, raw_request, unique)

mm = client(validate=False)
NO_AUTH = {"NoAuthentication": {}}


@check
def missing_required_member():
    expect_error("ValidationException", mm.create_archive, status=400, mentions=["ArchiveName"])
    expect_error("ValidationException", mm.create_relay, RelayName=unique("r"), ServerName="mx.example.net",
                 Authentication=NO_AUTH, status=400, mentions=["ServerPort"])
    expect_error("ValidationException", mm.get_rule_set, mentions=["RuleSetId"])


@check
def nested_missing_member():
    expect_error("ValidationException", mm.create_rule_set, RuleSetName=unique("rs"),
                 Rules=[{"Actions": [{"Archive": {}}]}], mentions=["TargetArchive"])


@check
def length_out_of_bounds():
    expect_error("ValidationException", mm.create_rule_set, RuleSetName="x" * 101, Rules=[],
                 status=400, mentions=["RuleSetName"])
    expect_error("ValidationException", mm.create_traffic_policy, TrafficPolicyName="ab", DefaultAction="ALLOW",
                 PolicyStatements=[], mentions=["TrafficPolicyName"])


@check
def range_out_of_bounds():
    expect_error("ValidationException", mm.create_relay, RelayName=unique("r"), ServerName="mx.example.net",
                 ServerPort=70000, Authentication=NO_AUTH, mentions=["ServerPort"])


@check
def pattern_mismatch():
    expect_error("ValidationException", mm.create_relay, RelayName="bad name!", ServerName="mx.example.net",
                 ServerPort=25, Authentication=NO_AUTH, mentions=["RelayName"])


@check
def enum_mismatch():
    expect_error("ValidationException", mm.create_traffic_policy, TrafficPolicyName=unique("tp"),
                 DefaultAction="MAYBE", PolicyStatements=[], mentions=["DefaultAction"])


@check
def list_bounds():
    rules = [{"Name": f"r{i}", "Actions": [{"Drop": {}}]} for i in range(41)]
    expect_error("ValidationException", mm.create_rule_set, RuleSetName=unique("rs"), Rules=rules, mentions=["Rules"])
    expect_error("ValidationException", mm.create_rule_set, RuleSetName=unique("rs"),
                 Rules=[{"Name": "empty", "Actions": []}], mentions=["Actions"])


@check
def union_needs_exactly_one_member():
    both = {"NoAuthentication": {}, "SecretArn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:x-AbCdEf"}
    expect_error("ValidationException", mm.create_relay, RelayName=unique("r"), ServerName="mx.example.net",
                 ServerPort=25, Authentication=both, mentions=["Authentication"])
    expect_error("ValidationException", mm.create_relay, RelayName=unique("r"), ServerName="mx.example.net",
                 ServerPort=25, Authentication={}, mentions=["Authentication"])


@check
def wrong_json_type():
    # A string where the model has an integer: AWS answers SerializationException.
    status, headers, body = raw_request(json.dumps({
        "RelayName": unique("r"), "ServerName": "mx.example.net", "ServerPort": "twenty-five",
        "Authentication": NO_AUTH}).encode(), target="MailManagerSvc.CreateRelay")
    code = error_code(headers, body)
    assert status == 400 and code in ("SerializationException", "ValidationException"), \
        f"ServerPort as a string: {status} {code} {body!r}, want 400 SerializationException"


@check
def unknown_resource():
    expect_error("ResourceNotFoundException", mm.get_archive, ArchiveId="a-doesnotexist000000000000000")
    expect_error("ResourceNotFoundException", mm.get_rule_set, RuleSetId="rs-doesnotexist")
    expect_error("ResourceNotFoundException", mm.get_ingress_point, IngressPointId="inp-doesnotexist")
    expect_error("ResourceNotFoundException", mm.get_relay, RelayId="rl-doesnotexist")
    expect_error("ResourceNotFoundException", mm.update_relay, RelayId="rl-doesnotexist", ServerPort=26)
    expect_error("ResourceNotFoundException", mm.get_address_list_import_job, JobId="job-doesnotexist")
    expect_error("ResourceNotFoundException", mm.register_member_to_address_list,
                 AddressListId="al-doesnotexist", Address="a@corp.example")


@check
def duplicate_name():
    name = unique("dup")
    a = mm.create_archive(ArchiveName=name)["ArchiveId"]
    expect_error("ConflictException", mm.create_archive, ArchiveName=name)
    mm.delete_archive(ArchiveId=a)
    name = unique("dup")
    r = mm.create_relay(RelayName=name, ServerName="mx.example.net", ServerPort=25, Authentication=NO_AUTH)["RelayId"]
    expect_error("ConflictException", mm.create_relay, RelayName=name, ServerName="mx.example.net", ServerPort=25,
                 Authentication=NO_AUTH)
    mm.delete_relay(RelayId=r)


@check
def delete_archive_in_use():
    aid = mm.create_archive(ArchiveName=unique("used"))["ArchiveId"]
    rs_name = unique("rs")
    rs = mm.create_rule_set(RuleSetName=rs_name, Rules=[{"Name": "a", "Actions": [{"Archive": {"TargetArchive": aid}}]}])["RuleSetId"]
    e = expect_error("ConflictException", mm.delete_archive, ArchiveId=aid)
    msg = e.response["Error"]["Message"]
    assert rs in msg or rs_name in msg, f"ConflictException should name the rule set using the archive: {msg!r}"
    eq("archive still there", mm.get_archive(ArchiveId=aid)["ArchiveState"], "ACTIVE")
    mm.delete_rule_set(RuleSetId=rs)
    mm.delete_archive(ArchiveId=aid)


@check
def failed_mutation_leaves_nothing():
    # A rule set whose second action names a missing relay must not be half-created.
    name = unique("atomic")
    aid = mm.create_archive(ArchiveName=unique("arch"))["ArchiveId"]
    try:
        mm.create_rule_set(RuleSetName=name, Rules=[{"Name": "a", "Actions": [
            {"Archive": {"TargetArchive": aid}}, {"Relay": {"Relay": "rl-doesnotexist"}}]}])
        raise AssertionError("rule set naming a missing relay was created")
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("ValidationException", "ResourceNotFoundException"), e.response["Error"]
    assert not [r for r in mm.list_rule_sets()["RuleSets"] if r["RuleSetName"] == name], "failed create left a rule set"
    mm.delete_archive(ArchiveId=aid)  # not referenced by anything


@check
def wrong_secret():
    bad = client(validate=False, secret="not-the-right-secret-0123456789")
    expect_error("InvalidSignatureException", bad.list_archives, status=403)


@check
def unknown_access_key():
    bad = client(validate=False, key="AKIAUNKNOWNKEY000000", secret="whatever-secret-0123456789")
    expect_error("UnrecognizedClientException", bad.list_archives, status=403)


@check
def missing_authentication():
    status, headers, body = raw_request(b"{}", target="MailManagerSvc.ListArchives", sign=False)
    eq("unsigned request", (status, error_code(headers, body)), (403, "MissingAuthenticationTokenException"))


@check
def malformed_json():
    status, headers, body = raw_request(b'{"ArchiveName": "x", ', target="MailManagerSvc.CreateArchive")
    eq("malformed JSON", (status, error_code(headers, body)), (400, "SerializationException"))
    assert headers.get("x-amzn-requestid"), f"no x-amzn-RequestId on an error: {headers}"
    status, headers, body = raw_request(b'[1, 2, 3]', target="MailManagerSvc.CreateArchive")
    eq("JSON array for a structure", (status, error_code(headers, body)), (400, "SerializationException"))


@check
def unknown_operation():
    status, headers, body = raw_request(b"{}", target="MailManagerSvc.FrobnicateWidgets")
    assert status == 400, f"unknown operation: HTTP {status}, want 400 ({body!r})"
    assert "FrobnicateWidgets" in error_message(body), f"error should name the operation: {body!r}"


@check
def unimplemented_operation():
    aid = mm.create_archive(ArchiveName=unique("search"))["ArchiveId"]
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        mm.start_archive_search(ArchiveId=aid, FromTimestamp=now - datetime.timedelta(days=1),
                                ToTimestamp=now, MaxResults=10)
        # Implemented by now: fine.
    except ClientError as e:
        http = e.response["ResponseMetadata"]["HTTPStatusCode"]
        code = e.response["Error"]["Code"]
        msg = e.response["Error"].get("Message", "")
        assert http != 500 and code not in ("InternalFailure", "InternalServerError", "InternalServerException"), \
            f"StartArchiveSearch: {http} {code} {msg!r}: an unimplemented operation must not be a 500"
        assert "StartArchiveSearch" in msg, f"StartArchiveSearch: error should name the operation: {code} {msg!r}"
    finally:
        mm.delete_archive(ArchiveId=aid)


if __name__ == "__main__":
    main()
