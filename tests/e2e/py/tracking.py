"""Open and click tracking with boto3 and urllib (run by tests/e2e/tracking_test.go).

  tracking.py send DOMAIN TOPIC_ARN RCPT   configures a tracking configuration
                                           set with boto3 and sends an HTML
                                           message; prints {"MessageId": ...}
  tracking.py sendraw DOMAIN TOPIC_ARN RCPT
                                           configures a tracking configuration
                                           set and sends a Raw MIME message
                                           (HTML in base64, with an attachment)
                                           with SES v1 send_raw_email and one
                                           (HTML in quoted-printable) with
                                           sesv2 send_email Raw; prints their
                                           MessageIds and the attachment
  tracking.py fetch PIXEL_URL LINK_URL     fetches the pixel and the link as a
                                           mail client would; prints what came
                                           back
"""

import base64
import email.charset
import json
import sys
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
import urllib.error
import urllib.request

from common import client

HTML = """<html><body><p>Spring sale!</p>
<p><a href="https://shop.example.test/sale?ref=mail&amp;n=1" ses:tags="campaign:spring;">See the sale</a></p>
<p><a ses:no-track href="https://shop.example.test/account">Your account</a></p>
</body></html>"""


def send(domain, topic_arn, rcpt):
    sesv2 = client("sesv2")
    sesv2.create_configuration_set(ConfigurationSetName="engagement")
    sesv2.create_configuration_set_event_destination(
        ConfigurationSetName="engagement", EventDestinationName="opens-and-clicks",
        EventDestination={"Enabled": True, "MatchingEventTypes": ["OPEN", "CLICK"],
                          "SnsDestination": {"TopicArn": topic_arn}})
    out = sesv2.send_email(
        FromEmailAddress="news@" + domain,
        Destination={"ToAddresses": [rcpt]},
        Content={"Simple": {"Subject": {"Data": "Spring sale"},
                            "Body": {"Html": {"Data": HTML}, "Text": {"Data": "Spring sale!"}}}},
        ConfigurationSetName="engagement",
        EmailTags=[{"Name": "campaign", "Value": "spring"}])
    print(json.dumps({"MessageId": out["MessageId"]}))


def raw_message(domain, rcpt, subject, html, cte):
    """A multipart/mixed message: text and HTML alternatives (the HTML in
    the transfer encoding cte) and a PDF attachment."""
    msg = MIMEMultipart("mixed")
    msg["Subject"] = subject
    msg["From"] = "news@" + domain
    msg["To"] = rcpt
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("Spring sale!", "plain", "utf-8"))
    cs = email.charset.Charset("utf-8")
    cs.body_encoding = cte
    alt.attach(MIMEText(html, "html", cs))
    msg.attach(alt)
    att = MIMEApplication(bytes(range(256)) * 4, Name="offer.pdf")
    att["Content-Disposition"] = 'attachment; filename="offer.pdf"'
    msg.attach(att)
    return msg


def sendraw(domain, topic_arn, rcpt):
    sesv2 = client("sesv2")
    ses = client("ses")
    sesv2.create_configuration_set(ConfigurationSetName="raw-engagement")
    sesv2.create_configuration_set_event_destination(
        ConfigurationSetName="raw-engagement", EventDestinationName="opens-and-clicks",
        EventDestination={"Enabled": True, "MatchingEventTypes": ["OPEN", "CLICK"],
                          "SnsDestination": {"TopicArn": topic_arn}})
    # SES v1: the set named by the request; the HTML in base64.
    msg = raw_message(domain, rcpt, "Spring sale (v1 raw)", HTML, email.charset.BASE64)
    v1 = ses.send_raw_email(Source="news@" + domain, Destinations=[rcpt],
                            RawMessage={"Data": msg.as_bytes()},
                            ConfigurationSetName="raw-engagement",
                            Tags=[{"Name": "campaign", "Value": "raw1"}])
    # SES v2: the set named by the X-SES-CONFIGURATION-SET header; the
    # HTML in quoted-printable.
    msg = raw_message(domain, rcpt, "Spring sale (v2 raw)", HTML, email.charset.QP)
    msg["X-SES-CONFIGURATION-SET"] = "raw-engagement"
    v2 = sesv2.send_email(Content={"Raw": {"Data": msg.as_bytes()}},
                          EmailTags=[{"Name": "campaign", "Value": "raw2"}])
    print(json.dumps({"v1": v1["MessageId"], "v2": v2["MessageId"],
                      "attachment": base64.b64encode(bytes(range(256)) * 4).decode()}))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def fetch(pixel, link):
    ua = {"User-Agent": "Tidings-E2E-Mail/1.0"}
    with urllib.request.urlopen(urllib.request.Request(pixel, headers=ua)) as r:
        body = r.read()
        pix = {"status": r.status, "type": r.headers["Content-Type"], "gif": body[:6] == b"GIF89a"}
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(urllib.request.Request(link, headers=ua))
        click = {"status": 200}
    except urllib.error.HTTPError as e:
        click = {"status": e.code, "location": e.headers["Location"]}
    # A forged link is refused.
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    try:
        opener.open(urllib.request.Request(forged, headers=ua))
        bad = 200
    except urllib.error.HTTPError as e:
        bad = e.code
    print(json.dumps({"pixel": pix, "click": click, "forged": bad}))


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(*sys.argv[2:5])
    elif sys.argv[1] == "sendraw":
        sendraw(*sys.argv[2:5])
    else:
        fetch(*sys.argv[2:4])
