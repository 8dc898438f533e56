"""boto3 create/get/update/list/delete of Mail Manager resources, with
pagination and idempotent client tokens."""

import time

from common import ACCOUNT, REGION, check, client, eq, expect_error, main, strip, unique

mm = client()


def arn_ok(arn, rid):
    prefix = f"arn:aws:ses:{REGION}:{ACCOUNT}:mailmanager-"
    assert arn.startswith(prefix) and arn.endswith("/" + rid), f"ARN {arn!r}: want {prefix}<type>/{rid}"


def recent(ts):
    # botocore turns wire timestamps into aware datetimes.
    age = time.time() - ts.timestamp()
    assert -300 < age < 1800, f"timestamp {ts} not near now"


@check
def traffic_policy_crud():
    name = unique("tp")
    stmts = [{
        "Action": "DENY",
        "Conditions": [{"TlsExpression": {
            "Evaluate": {"Attribute": "TLS_PROTOCOL"},
            "Operator": "MINIMUM_TLS_VERSION",
            "Value": "TLS1_2",
        }}],
    }]
    tid = mm.create_traffic_policy(TrafficPolicyName=name, DefaultAction="ALLOW",
                                   PolicyStatements=stmts, MaxMessageSizeBytes=5000000)["TrafficPolicyId"]
    got = mm.get_traffic_policy(TrafficPolicyId=tid)
    eq("TrafficPolicyName", got["TrafficPolicyName"], name)
    eq("DefaultAction", got["DefaultAction"], "ALLOW")
    eq("MaxMessageSizeBytes", got["MaxMessageSizeBytes"], 5000000)
    eq("PolicyStatements", got["PolicyStatements"], stmts)
    arn_ok(got["TrafficPolicyArn"], tid)
    recent(got["CreatedTimestamp"])
    mm.update_traffic_policy(TrafficPolicyId=tid, PolicyStatements=[])
    got = mm.get_traffic_policy(TrafficPolicyId=tid)
    # (An empty list may come back as an absent member.)
    eq("PolicyStatements after update", got["PolicyStatements"], [])
    eq("name kept by update", got["TrafficPolicyName"], name)
    listed = [p for p in mm.list_traffic_policies()["TrafficPolicies"] if p["TrafficPolicyId"] == tid]
    eq("listed", [(p["TrafficPolicyName"], p["DefaultAction"]) for p in listed], [(name, "ALLOW")])
    mm.delete_traffic_policy(TrafficPolicyId=tid)
    expect_error("ResourceNotFoundException", mm.get_traffic_policy, TrafficPolicyId=tid)


@check
def archive_crud():
    name = unique("arch")
    aid = mm.create_archive(ArchiveName=name, Retention={"RetentionPeriod": "THREE_MONTHS"},
                            Tags=[{"Key": "k", "Value": "v"}])["ArchiveId"]
    got = mm.get_archive(ArchiveId=aid)
    eq("ArchiveName", got["ArchiveName"], name)
    eq("ArchiveState", got["ArchiveState"], "ACTIVE")
    eq("Retention", got["Retention"], {"RetentionPeriod": "THREE_MONTHS"})
    arn_ok(got["ArchiveArn"], aid)
    eq("tags", mm.list_tags_for_resource(ResourceArn=got["ArchiveArn"])["Tags"], [{"Key": "k", "Value": "v"}])
    mm.update_archive(ArchiveId=aid, Retention={"RetentionPeriod": "PERMANENT"})
    eq("Retention after update", mm.get_archive(ArchiveId=aid)["Retention"], {"RetentionPeriod": "PERMANENT"})
    assert any(a["ArchiveId"] == aid for a in mm.list_archives()["Archives"]), "archive not listed"
    mm.delete_archive(ArchiveId=aid)


@check
def relay_crud():
    name = unique("relay")
    rid = mm.create_relay(RelayName=name, ServerName="smtp.example.net", ServerPort=465,
                          Authentication={"NoAuthentication": {}})["RelayId"]
    got = mm.get_relay(RelayId=rid)
    eq("relay", (got["RelayName"], got["ServerName"], got["ServerPort"], got["Authentication"]),
       (name, "smtp.example.net", 465, {"NoAuthentication": {}}))
    arn_ok(got["RelayArn"], rid)
    mm.update_relay(RelayId=rid, ServerName="smtp2.example.net")
    got = mm.get_relay(RelayId=rid)
    eq("relay after update", (got["ServerName"], got["ServerPort"]), ("smtp2.example.net", 465))
    mm.delete_relay(RelayId=rid)
    expect_error("ResourceNotFoundException", mm.get_relay, RelayId=rid)


@check
def rule_set_and_ingress_point():
    aid = mm.create_archive(ArchiveName=unique("arch"))["ArchiveId"]
    rid = mm.create_relay(RelayName=unique("relay"), ServerName="mx.example.net", ServerPort=25,
                          Authentication={"NoAuthentication": {}})["RelayId"]
    al = mm.create_address_list(AddressListName=unique("al"))["AddressListId"]
    al_arn = mm.get_address_list(AddressListId=al)["AddressListArn"]
    rules = [
        {"Name": "vip", "Conditions": [{"BooleanExpression": {
            "Evaluate": {"IsInAddressList": {"AddressLists": [al_arn], "Attribute": "RECIPIENT"}},
            "Operator": "IS_TRUE"}}],
         "Actions": [{"Relay": {"Relay": rid, "ActionFailurePolicy": "DROP"}}]},
        {"Name": "keep", "Actions": [{"Archive": {"TargetArchive": aid}}]},
        {"Name": "spf-fail", "Conditions": [{"VerdictExpression": {
            "Evaluate": {"Attribute": "SPF"}, "Operator": "EQUALS", "Values": ["FAIL"]}}],
         "Actions": [{"Drop": {}}]},
    ]
    rs = mm.create_rule_set(RuleSetName=unique("rs"), Rules=rules)["RuleSetId"]
    got = mm.get_rule_set(RuleSetId=rs)
    eq("Rules", got["Rules"], rules)
    arn_ok(got["RuleSetArn"], rs)
    recent(got["CreatedDate"])

    tp = mm.create_traffic_policy(TrafficPolicyName=unique("tp"), DefaultAction="ALLOW",
                                  PolicyStatements=[])["TrafficPolicyId"]
    name = unique("ip")
    ip = mm.create_ingress_point(IngressPointName=name, Type="OPEN", RuleSetId=rs, TrafficPolicyId=tp)["IngressPointId"]
    got = mm.get_ingress_point(IngressPointId=ip)
    eq("ingress point", (got["IngressPointName"], got["Type"], got["RuleSetId"], got["TrafficPolicyId"]),
       (name, "OPEN", rs, tp))
    host, _, port = got["ARecord"].rpartition(":")
    assert host and port.isdigit(), f"ARecord {got['ARecord']!r}: want host:port"
    arn_ok(got["IngressPointArn"], ip)

    # What the ingress point and rule set use cannot go.
    expect_error("ConflictException", mm.delete_rule_set, RuleSetId=rs)
    expect_error("ConflictException", mm.delete_address_list, AddressListId=al)
    mm.delete_ingress_point(IngressPointId=ip)
    mm.delete_rule_set(RuleSetId=rs)
    for fn, kw in ((mm.delete_traffic_policy, {"TrafficPolicyId": tp}), (mm.delete_relay, {"RelayId": rid}),
                   (mm.delete_archive, {"ArchiveId": aid}), (mm.delete_address_list, {"AddressListId": al})):
        fn(**kw)


@check
def address_list_members_paginate():
    al = mm.create_address_list(AddressListName=unique("al"))["AddressListId"]
    want = sorted(f"user{i}@corp.example" for i in range(5))
    for a in want:
        mm.register_member_to_address_list(AddressListId=al, Address=a)
    # RegisterMemberToAddressList is idempotent in the model: again is fine.
    mm.register_member_to_address_list(AddressListId=al, Address=want[0])
    seen, token, pages = [], None, 0
    while True:
        kw = {"AddressListId": al, "PageSize": 2}
        if token:
            kw["NextToken"] = token
        out = mm.list_members_of_address_list(**kw)
        assert len(out["Addresses"]) <= 2, f"page of {len(out['Addresses'])} with PageSize 2"
        seen += [m["Address"] for m in out["Addresses"]]
        pages += 1
        token = out.get("NextToken")
        if not token:
            break
        assert pages < 10, "pagination does not end"
    eq("members over pages", sorted(seen), want)
    assert pages == 3, f"{pages} pages of 2 for 5 members, want 3"
    paginator = mm.get_paginator("list_members_of_address_list")
    eq("paginator", sorted(m["Address"] for p in paginator.paginate(AddressListId=al, PaginationConfig={"PageSize": 1})
                           for m in p["Addresses"]), want)
    mm.delete_address_list(AddressListId=al)


@check
def list_pagination_relays():
    ids = [mm.create_relay(RelayName=unique("pg"), ServerName="mx.example.net", ServerPort=25,
                           Authentication={"NoAuthentication": {}})["RelayId"] for _ in range(3)]
    seen, token = [], None
    for _ in range(50):
        kw = {"PageSize": 1}
        if token:
            kw["NextToken"] = token
        out = mm.list_relays(**kw)
        assert len(out["Relays"]) <= 1, f"page of {len(out['Relays'])} with PageSize 1"
        seen += [r["RelayId"] for r in out["Relays"]]
        token = out.get("NextToken")
        if not token:
            break
    assert not token, "list_relays pagination does not end"
    assert len(seen) == len(set(seen)), f"a relay appears on two pages: {seen}"
    assert set(ids) <= set(seen), f"relays {ids} not all listed over pages: {seen}"
    expect_error("ValidationException", mm.list_relays, NextToken="not-a-token-we-issued")
    for i in ids:
        mm.delete_relay(RelayId=i)


@check
def client_token_is_idempotent():
    name = unique("idem")
    token = unique("token")
    a = mm.create_archive(ArchiveName=name, ClientToken=token)["ArchiveId"]
    b = mm.create_archive(ArchiveName=name, ClientToken=token)["ArchiveId"]
    eq("ArchiveId of a retried create", b, a)
    n = [x for x in mm.list_archives()["Archives"] if x["ArchiveName"] == name]
    eq("archives named " + name, len(n), 1)
    mm.delete_archive(ArchiveId=a)


@check
def request_id_on_answers():
    out = mm.list_rule_sets()
    assert out["ResponseMetadata"].get("RequestId"), f"no x-amzn-RequestId: {out['ResponseMetadata']}"
    eq("status", out["ResponseMetadata"]["HTTPStatusCode"], 200)


@check
def sts_caller_identity():
    out = client("sts").get_caller_identity()
    eq("Account", out["Account"], ACCOUNT)
    eq("Arn", out["Arn"], f"arn:aws:iam::{ACCOUNT}:root")


if __name__ == "__main__":
    main()
