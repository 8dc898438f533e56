"""Open and click tracking with boto3 and urllib (run by tests/e2e/tracking_test.go).

  tracking.py send DOMAIN TOPIC_ARN RCPT   configures a tracking configuration
                                           set with boto3 and sends an HTML
                                           message; prints {"MessageId": ...}
  tracking.py fetch PIXEL_URL LINK_URL     fetches the pixel and the link as a
                                           mail client would; prints what came
                                           back
"""

import json
import sys
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
    else:
        fetch(*sys.argv[2:4])
