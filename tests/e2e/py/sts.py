"""STS AssumeRole and GetSessionToken with boto3, and the temporary
credentials they give across the APIs (tests/e2e/sts_test.go).

The Go test has made, with `tidings roles create`, a role of another
account (TIDINGS_E2E_ROLE_ACCOUNT) trusting the caller's, and a key of a
third account it does not trust; it has run the seed's cross-account
example (py/cross_account_ses.py) before this script.
"""

import datetime
import os
import re

import boto3
from botocore.config import Config

from common import ACCOUNT, ENDPOINT, KEY_ID, REGION, SECRET, check, eq, expect_error, main

ROLE_ARN = os.environ["TIDINGS_E2E_ROLE_ARN"]
ROLE_ACCOUNT = os.environ["TIDINGS_E2E_ROLE_ACCOUNT"]
ROLE_NAME = ROLE_ARN.rsplit("/", 1)[1]
OTHER_KEY = os.environ["TIDINGS_E2E_OTHER_KEY"]
OTHER_SECRET = os.environ["TIDINGS_E2E_OTHER_SECRET"]
DOMAIN = os.environ["TIDINGS_E2E_DOMAIN"]


def client(service, creds=None, key=KEY_ID, secret=SECRET, token=None, validate=True):
    if creds is not None:
        key, secret, token = creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]
    return boto3.client(
        service, endpoint_url=ENDPOINT, region_name=REGION,
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
        config=Config(parameter_validation=validate, retries={"max_attempts": 1, "mode": "standard"},
                      connect_timeout=10, read_timeout=180),
    )


sts = client("sts")
sts_raw = client("sts", validate=False)
_assumed = sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="SESSession")
CREDS = _assumed["Credentials"]


@check
def assume_role_answer():
    c = CREDS
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", c["AccessKeyId"]), c["AccessKeyId"]
    eq("secret length", len(c["SecretAccessKey"]), 40)
    assert len(c["SessionToken"]) >= 100, c["SessionToken"]
    left = c["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
    # An hour by default; the margin is for a slow machine, not a timing.
    assert datetime.timedelta(minutes=50) < left <= datetime.timedelta(hours=1), left
    user = _assumed["AssumedRoleUser"]
    eq("Arn", user["Arn"], f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/{ROLE_NAME}/SESSession")
    assert re.fullmatch(r"AROA[A-Z2-7]{17}:SESSession", user["AssumedRoleId"]), user["AssumedRoleId"]


@check
def caller_identity_with_temporary_credentials():
    me = client("sts", CREDS).get_caller_identity()
    eq("Account", me["Account"], ROLE_ACCOUNT)
    eq("Arn", me["Arn"], _assumed["AssumedRoleUser"]["Arn"])
    eq("UserId", me["UserId"], _assumed["AssumedRoleUser"]["AssumedRoleId"])
    root = sts.get_caller_identity()
    eq("root Arn", root["Arn"], f"arn:aws:iam::{ACCOUNT}:root")


@check
def role_account_resources():
    """The credentials act as the role's account: its identities, its sends."""
    names = [i["IdentityName"] for i in client("sesv2", CREDS).list_email_identities()["EmailIdentities"]]
    assert DOMAIN in names, names
    names = [i["IdentityName"] for i in client("sesv2").list_email_identities()["EmailIdentities"]]
    assert DOMAIN not in names, f"the caller's own account sees the role account's identity: {names}"
    # The seed's example sent one message through the role.
    eq("role account's SentLast24Hours", client("ses", CREDS).get_send_quota()["SentLast24Hours"], 1.0)
    eq("caller's SentLast24Hours", client("ses").get_send_quota()["SentLast24Hours"], 0.0)


@check
def wrong_or_missing_session_token():
    key, secret = CREDS["AccessKeyId"], CREDS["SecretAccessKey"]
    forged = CREDS["SessionToken"][:-4] + ("AAAA" if not CREDS["SessionToken"].endswith("AAAA") else "BBBB")
    for token in (None, forged):
        expect_error("InvalidClientTokenId", client("ses", key=key, secret=secret, token=token).get_send_quota,
                     status=403, mentions=["The security token included in the request is invalid"])
        expect_error("InvalidClientTokenId", client("sts", key=key, secret=secret, token=token).get_caller_identity,
                     status=403)
        expect_error("UnrecognizedClientException", client("sesv2", key=key, secret=secret, token=token).get_account,
                     status=403)
    # Another session's token does not fit.
    other = sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="other")["Credentials"]
    expect_error("InvalidClientTokenId", client("ses", key=key, secret=secret, token=other["SessionToken"]).get_send_quota)
    # A long-term key with a session token is no session either.
    expect_error("InvalidClientTokenId", client("ses", token=CREDS["SessionToken"]).get_send_quota)


@check
def untrusted_or_unknown_role_denied():
    e = expect_error("AccessDenied", client("sts", key=OTHER_KEY, secret=OTHER_SECRET).assume_role,
                     RoleArn=ROLE_ARN, RoleSessionName="SESSession", status=403)
    other_account = client("sts", key=OTHER_KEY, secret=OTHER_SECRET).get_caller_identity()["Account"]
    eq("message", e.response["Error"]["Message"],
       f"User: arn:aws:iam::{other_account}:root is not authorized to perform: sts:AssumeRole on resource: {ROLE_ARN}")
    missing = f"arn:aws:iam::{ROLE_ACCOUNT}:role/NoSuchRole"
    expect_error("AccessDenied", sts.assume_role, RoleArn=missing, RoleSessionName="s1", status=403,
                 mentions=[f"on resource: {missing}"])


@check
def assume_role_bad_input():
    expect_error("ValidationError", sts_raw.assume_role, RoleArn=ROLE_ARN, RoleSessionName="a", status=400)
    expect_error("ValidationError", sts_raw.assume_role, RoleArn=ROLE_ARN, RoleSessionName="bad name", status=400)
    expect_error("ValidationError", sts_raw.assume_role, RoleArn=ROLE_ARN, RoleSessionName="s" * 65, status=400)
    expect_error("ValidationError", sts_raw.assume_role, RoleArn=ROLE_ARN, RoleSessionName="s1", DurationSeconds=899, status=400)
    expect_error("ValidationError", sts_raw.assume_role, RoleArn=ROLE_ARN, RoleSessionName="s1", DurationSeconds=7201,
                 status=400, mentions=["MaxSessionDuration"])
    expect_error("ValidationError", sts_raw.assume_role, RoleArn="arn:aws:iam::12345:role/x", RoleSessionName="s1", status=400,
                 mentions=["Request ARN is invalid"])
    expect_error("MalformedPolicyDocument", sts_raw.assume_role, RoleArn=ROLE_ARN, RoleSessionName="s1",
                 Policy="{not json", status=400)
    # Within the role's maximum, a longer session is granted.
    c = sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="long", DurationSeconds=7200)["Credentials"]
    left = c["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=1) < left <= datetime.timedelta(hours=2), left


@check
def role_chaining():
    chained = client("sts", CREDS)
    out = chained.assume_role(RoleArn=ROLE_ARN, RoleSessionName="chained")
    eq("Arn", out["AssumedRoleUser"]["Arn"], f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/{ROLE_NAME}/chained")
    expect_error("ValidationError", chained.assume_role, RoleArn=ROLE_ARN, RoleSessionName="chained", DurationSeconds=3601,
                 mentions=["role chaining"])


@check
def get_session_token():
    c = sts.get_session_token()["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA"), c["AccessKeyId"]
    left = c["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=11) < left <= datetime.timedelta(hours=12), left
    me = client("sts", c).get_caller_identity()
    eq("Account", me["Account"], ACCOUNT)
    eq("Arn", me["Arn"], f"arn:aws:iam::{ACCOUNT}:root")
    expect_error("AccessDenied", client("sts", c).get_session_token, status=403)
    expect_error("ValidationError", sts_raw.get_session_token, DurationSeconds=899, status=400)
    expect_error("ValidationError", sts_raw.get_session_token, DurationSeconds=129601, status=400)
    # The credentials work on the other APIs too.
    client("sesv2", c).get_account()


if __name__ == "__main__":
    main()
