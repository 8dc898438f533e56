"""Shared helpers for the boto3 end-to-end scripts.

Each script registers checks with @check and calls main(). Every check is
reported on stdout as one JSON line {"check", "ok", "detail"}; the Go test
(tests/e2e/boto3_test.go) turns each into a subtest. The server and the key
come from the environment the Go harness sets: AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION and
TIDINGS_E2E_ACCOUNT_ID.
"""

import json
import os
import sys
import traceback
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
SECRET = os.environ["AWS_SECRET_ACCESS_KEY"]
ACCOUNT = os.environ["TIDINGS_E2E_ACCOUNT_ID"]

_CHECKS = []


def check(fn):
    """Register fn as a check named after it."""
    _CHECKS.append(fn)
    return fn


def main():
    failed = 0
    only = set(sys.argv[1:])
    for fn in _CHECKS:
        if only and fn.__name__ not in only:
            continue
        try:
            fn()
            detail, ok = "", True
        except AssertionError as e:
            ok = False
            detail = (str(e) or "assertion failed") + "\n" + "".join(traceback.format_tb(e.__traceback__)[-2:])
        except Exception:  # a crash is a failure of this check, not of the run
            ok = False
            detail = traceback.format_exc()
        if not ok:
            failed += 1
        print(json.dumps({"check": fn.__name__, "ok": ok, "detail": detail}), flush=True)
    sys.exit(1 if failed else 0)


def client(service="mailmanager", validate=True, key=None, secret=None):
    """A boto3 client for the server; validate=False lets bad input through
    to the server so that its own validation is what gets tested."""
    cfg = Config(
        parameter_validation=validate,
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        # Generous: CI runs many race-built servers at once on 2 cores.
        read_timeout=180,
    )
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=key or KEY_ID,
        aws_secret_access_key=secret or SECRET,
        config=cfg,
    )


def unique(prefix):
    return prefix + "-" + uuid.uuid4().hex[:10]


def expect_error(code, fn, *args, status=None, mentions=(), **kwargs):
    """Call fn, which must fail with error code `code`; the message must
    mention each string in `mentions`. Returns the ClientError."""
    try:
        out = fn(*args, **kwargs)
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        msg = e.response.get("Error", {}).get("Message") or ""
        http = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        assert got == code, f"{fn.__name__}: error {got!r} ({http}: {msg!r}), want {code!r}"
        if status is not None:
            assert http == status, f"{fn.__name__}: HTTP {http}, want {status} ({code}: {msg!r})"
        for m in mentions:
            # AWS names members in the message by their path in lower camel
            # case ("at 'rules.1.member.name'"), so compare without case.
            assert m.lower() in msg.lower(), f"{fn.__name__}: {code} message {msg!r} does not mention {m!r}"
        rid = e.response.get("ResponseMetadata", {}).get("RequestId")
        assert rid, f"{fn.__name__}: error answer without x-amzn-RequestId: {e.response!r}"
        return e
    raise AssertionError(f"{fn.__name__}: succeeded ({strip(out)!r}), want {code}")


def strip(out):
    """An answer without ResponseMetadata, for comparisons and messages."""
    if isinstance(out, dict):
        return {k: v for k, v in out.items() if k != "ResponseMetadata"}
    return out


def eq(what, got, want):
    assert got == want, f"{what}: got {got!r}, want {want!r}"


def raw_request(body, target=None, path="/", content_type="application/x-amz-json-1.0",
                sign=True, key=None, secret=None, headers=None, service="ses"):
    """Send a raw POST, SigV4-signed with botocore's signer unless
    sign=False. Returns (status, headers, body bytes)."""
    h = {"Content-Type": content_type}
    if target:
        h["X-Amz-Target"] = target
    h.update(headers or {})
    req = AWSRequest(method="POST", url=ENDPOINT.rstrip("/") + path, data=body, headers=h)
    if sign:
        SigV4Auth(Credentials(key or KEY_ID, secret or SECRET), service, REGION).add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def error_code(headers, body):
    """The error code of an awsJson1_0 error answer, as botocore reads it."""
    code = headers.get("x-amzn-errortype", "")
    if not code:
        try:
            code = json.loads(body or b"{}").get("__type", "")
        except ValueError:
            code = ""
    code = code.split(":")[0]
    return code.rsplit("#", 1)[-1]


def error_message(body):
    try:
        d = json.loads(body or b"{}")
    except ValueError:
        return body.decode("utf-8", "replace")
    return d.get("message") or d.get("Message") or ""
