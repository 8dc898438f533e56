"""The journaling scenario with boto3, after tests/e2e/archive_test.go has
set it up and sent the corpus through the ingress point: every message
lands in both archives, searches find the right ones, an export completes,
a download link gives the message byte for byte, the native search answers
from:/to: queries, and bad input gets the exceptions AWS answers.

The manifest (TIDINGS_E2E_ARCHIVE_MANIFEST) says what was sent and what each
search must find, by Message-ID."""

import datetime
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from common import ENDPOINT, KEY_ID, REGION, SECRET, check, client, eq, expect_error, main

with open(os.environ["TIDINGS_E2E_ARCHIVE_MANIFEST"]) as f:
    M = json.load(f)

mm = client()
raw = client(validate=False)  # bad input reaches the server's validation
NOW = datetime.datetime.now(datetime.timezone.utc)
FROM = NOW - datetime.timedelta(days=1)
TO = NOW + datetime.timedelta(hours=1)


def search(archive, filters=None, max_results=1000):
    kw = {"ArchiveId": archive, "FromTimestamp": FROM, "ToTimestamp": TO, "MaxResults": max_results}
    if filters:
        kw["Filters"] = filters
    sid = mm.start_archive_search(**kw)["SearchId"]
    deadline = time.time() + 60
    while True:
        st = mm.get_archive_search(SearchId=sid)["Status"]
        if st["State"] == "COMPLETED":
            break
        assert st["State"] in ("QUEUED", "RUNNING"), f"search {sid}: {st}"
        assert time.time() < deadline, f"search {sid} not done: {st}"
        time.sleep(0.2)
    return mm.get_archive_search_results(SearchId=sid).get("Rows", [])


def ids(rows):
    return sorted(r["MessageId"] for r in rows if "MessageId" in r)


def sent(message_id):
    with open(M["sent"][message_id], "rb") as f:
        return f.read()


def strip_trace(b):
    """The archive keeps a message as it was sent: none of the fields
    Tidings' own hops add (its Received, its Authentication-Results) are in
    it; they are metadata. Returns b as it is."""
    head = b.split(b"\r\n\r\n", 1)[0]
    assert b" (Tidings) with " not in head and not b.startswith(b"Authentication-Results:"), \
        f"the archived message carries Tidings' trace fields: {b[:200]!r}"
    return b


def native(archive, q, page_size=100):
    # RFC 3986 escaping (%20, not +), as SigV4's canonical query string has it.
    query = urllib.parse.urlencode({"q": q, "page_size": page_size}, quote_via=urllib.parse.quote)
    url = f"{ENDPOINT.rstrip('/')}/v1/archives/{archive}/messages?{query}"
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(KEY_ID, SECRET), "ses", REGION).add_auth(req)
    p = req.prepare()
    try:
        with urllib.request.urlopen(urllib.request.Request(p.url, headers=dict(p.headers)), timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise AssertionError(f"GET {url}: {e.code} {e.read()!r}")


@check
def every_message_archived_in_both():
    # The gateway archives after "250 OK" (the message is spooled first);
    # wait for the last one, with a deadline.
    deadline = time.time() + 120
    for arc in (M["short"], M["long"]):
        while True:
            n = len(search(arc))
            if n == M["total"] or time.time() > deadline:
                break
            time.sleep(0.5)
        eq(f"messages in {arc}", n, M["total"])
    got = ids(search(M["long"]))
    eq("Message-IDs archived", got, sorted(M["sent"]))


@check
def searches_find_the_right_messages():
    for q in M["queries"]:
        if not q.get("filters"):
            continue
        for arc in (M["short"], M["long"]):
            eq(f"{q['name']} in {arc}", ids(search(arc, q["filters"])), q["want"])


@check
def rows_show_the_journaled_original():
    rows = search(M["short"], {"Include": [{"StringExpression": {
        "Evaluate": {"Attribute": "SUBJECT"}, "Operator": "CONTAINS", "Values": ["partner quote 004"]}}]})
    eq("rows", len(rows), 1)
    r = rows[0]
    eq("From", r.get("From"), "gita@partner.example")
    eq("To", r.get("To"), "sales@corp.example")
    eq("MessageId", r.get("MessageId"), "<quote-004@partner.example>")
    eq("Subject", r.get("Subject"), "Partner quote 004")
    eq("HasAttachments", r.get("HasAttachments"), False)
    eq("Envelope.To", r["Envelope"]["To"], ["journal@journaling.corp.example"])
    assert isinstance(r["ReceivedTimestamp"], datetime.datetime), r


@check
def max_results_limits_rows():
    rows = search(M["long"], max_results=7)
    eq("rows", len(rows), 7)
    stamps = [r["ReceivedTimestamp"] for r in rows]
    eq("newest first", stamps, sorted(stamps, reverse=True))


@check
def native_search_from_to_and_words():
    for q in M["queries"]:
        if not q.get("native"):
            continue
        for arc in (M["short"], M["long"]):
            got = sorted(m["message_id"] for m in native(arc, q["native"])["messages"])
            eq(f"native {q['native']!r} in {arc}", got, q["want"])


@check
def download_link_gives_the_message_byte_for_byte():
    for arc in (M["short"], M["long"]):
        rows = search(arc, {"Include": [{"StringExpression": {
            "Evaluate": {"Attribute": "SUBJECT"}, "Operator": "CONTAINS", "Values": [subject_of(M["download"])]}}]})
        row = [r for r in rows if r.get("MessageId") == M["download"]]
        eq("rows for the download", len(row), 1)
        msg = mm.get_archive_message(ArchivedMessageId=row[0]["ArchivedMessageId"])
        link = msg["MessageDownloadLink"]
        assert link.startswith(ENDPOINT), link
        with urllib.request.urlopen(link, timeout=30) as r:
            eq("status", r.status, 200)
            eq("content type", r.headers.get("Content-Type"), "message/rfc822")
            body = r.read()
        eq(f"bytes of {M['download']} from {arc}", strip_trace(body), sent(M["download"]))
        eq("metadata ingress point", bool(msg["Metadata"].get("IngressPointId")), True)


def subject_of(message_id):
    for line in sent(message_id).split(b"\r\n"):
        if line.lower().startswith(b"subject:"):
            return line.split(b":", 1)[1].strip().decode().lower()
    raise AssertionError(f"no subject in {message_id}")


@check
def message_content_is_the_original():
    rows = search(M["long"], {"Include": [{"StringExpression": {
        "Evaluate": {"Attribute": "SUBJECT"}, "Operator": "CONTAINS", "Values": ["project falcon status 017"]}}]})
    eq("rows", len(rows), 1)
    c = mm.get_archive_message_content(ArchivedMessageId=rows[0]["ArchivedMessageId"])
    text = c["Body"].get("Text", "")
    assert "falcontok17x" in text, text
    assert "Sender:" not in text, f"the journal report's fields are not the content: {text!r}"
    assert not c["Body"].get("MessageMalformed"), c["Body"]


@check
def export_completes_with_the_messages():
    out = mm.start_archive_export(
        ArchiveId=M["short"], FromTimestamp=FROM, ToTimestamp=TO,
        Filters={"Include": [{"StringExpression": {"Evaluate": {"Attribute": "FROM"}, "Operator": "CONTAINS",
                                                   "Values": ["bruno@corp.example"]}}]},
        ExportDestinationConfiguration={"S3": {"S3Location": "s3://journal-exports/boto3/"}})
    eid = out["ExportId"]
    deadline = time.time() + 60
    while True:
        got = mm.get_archive_export(ExportId=eid)
        if got["Status"]["State"] == "COMPLETED":
            break
        assert got["Status"]["State"] in ("QUEUED", "PREPROCESSING", "PROCESSING"), got["Status"]
        assert time.time() < deadline, got
        time.sleep(0.2)
    eq("ArchiveId", got["ArchiveId"], M["short"])
    eq("S3Location", got["ExportDestinationConfiguration"]["S3"]["S3Location"], "s3://journal-exports/boto3/")
    listed = [e["ExportId"] for e in mm.list_archive_exports(ArchiveId=M["short"])["Exports"]]
    assert eid in listed, listed


@check
def searches_are_listed():
    got = mm.list_archive_searches(ArchiveId=M["long"], PageSize=50)
    assert len(got["Searches"]) >= 1, got


@check
def bad_time_range():
    expect_error("ValidationException", raw.start_archive_search, ArchiveId=M["short"],
                 FromTimestamp=NOW, ToTimestamp=NOW - datetime.timedelta(hours=1), MaxResults=10,
                 mentions=["FromTimestamp"])
    expect_error("ValidationException", raw.start_archive_export, ArchiveId=M["short"],
                 FromTimestamp=NOW, ToTimestamp=NOW - datetime.timedelta(hours=1),
                 ExportDestinationConfiguration={"S3": {"S3Location": "s3://b/p/"}})


@check
def too_many_filters():
    many = [{"StringExpression": {"Evaluate": {"Attribute": "SUBJECT"}, "Operator": "CONTAINS", "Values": [f"w{i}"]}}
            for i in range(11)]
    expect_error("ValidationException", raw.start_archive_search, ArchiveId=M["short"], FromTimestamp=FROM,
                 ToTimestamp=TO, MaxResults=10, Filters={"Include": many})
    expect_error("ValidationException", raw.start_archive_search, ArchiveId=M["short"], FromTimestamp=FROM,
                 ToTimestamp=TO, MaxResults=1001)


@check
def unknown_archive():
    expect_error("ResourceNotFoundException", raw.start_archive_search, ArchiveId="a-doesnotexist0000",
                 FromTimestamp=FROM, ToTimestamp=TO, MaxResults=10)
    expect_error("ResourceNotFoundException", raw.get_archive_search_results, SearchId="00000000-0000-4000-8000-000000000000")
    expect_error("ResourceNotFoundException", raw.get_archive_message, ArchivedMessageId="0000000000000nosuchmessage")


main()
