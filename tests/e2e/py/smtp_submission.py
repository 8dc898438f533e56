"""SMTP submission with Python's smtplib, as the Amazon SES documentation
sends through its SMTP interface: STARTTLS on the submission port, implicit
TLS with SMTP_SSL, credentials derived from the access key, configuration
set and message tags in X-SES-* headers; and the refusals SES answers (AUTH
before STARTTLS, a wrong password, an unverified sender).

Environment (from tests/e2e/submission_test.go): the AWS_* variables of the
key, TIDINGS_E2E_SUBMISSION and TIDINGS_E2E_SUBMISSIONS (host:port),
TIDINGS_E2E_SMTP_USER / TIDINGS_E2E_SMTP_PASSWORD (printed by
`tidings smtp-credentials`), TIDINGS_E2E_DOMAIN (verified),
TIDINGS_E2E_RCPT, TIDINGS_E2E_CA (the server's certificate).
"""

import base64
import hashlib
import hmac
import os
import re
import smtplib
import ssl
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import boto3

from common import REGION, SECRET, check, main

HOST, PORT = os.environ["TIDINGS_E2E_SUBMISSION"].rsplit(":", 1)
SSL_HOST, SSL_PORT = os.environ["TIDINGS_E2E_SUBMISSIONS"].rsplit(":", 1)
USER = os.environ["TIDINGS_E2E_SMTP_USER"]
PASSWORD = os.environ["TIDINGS_E2E_SMTP_PASSWORD"]
DOMAIN = os.environ["TIDINGS_E2E_DOMAIN"]
RCPT = os.environ["TIDINGS_E2E_RCPT"]
CA = os.environ["TIDINGS_E2E_CA"]
SENDER = "Sender Name <sender@" + DOMAIN + ">"
MESSAGE_ID = re.compile(r"^2\.0\.0 Ok 0100[0-9a-f]{12}-[0-9a-f-]{36}-000000$")


def smtp_password(secret, region):
    """The documented conversion of a secret access key into an SES SMTP
    password: HMAC-SHA256 along the SigV4 key chain, version byte 4."""
    def sign(key, msg):
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()
    sig = sign(("AWS4" + secret).encode("utf-8"), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        sig = sign(sig, part)
    return base64.b64encode(bytes([0x04]) + sig).decode("utf-8")


def message(subject, sender=SENDER):
    msg = MIMEMultipart("alternative")
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = RCPT
    msg.add_header("X-SES-CONFIGURATION-SET", "smtp-set")
    msg.add_header("X-SES-MESSAGE-TAGS", "campaign=smtp, via=smtplib")
    msg.attach(MIMEText("Amazon SES Test\r\nThis message was sent through the SMTP interface with Python smtplib.", "plain"))
    msg.attach(MIMEText("<html><body><h1>Amazon SES SMTP Email Test</h1><p>Sent with smtplib.</p></body></html>", "html"))
    return msg


@check
def credentials_match_the_documented_algorithm():
    assert USER == os.environ["AWS_ACCESS_KEY_ID"], USER
    want = smtp_password(SECRET, REGION)
    assert PASSWORD == want, (PASSWORD, want)


@check
def configuration_set_for_headers():
    boto3.client("sesv2").create_configuration_set(ConfigurationSetName="smtp-set")


@check
def documented_starttls_example():
    # The SES example: EHLO, STARTTLS, EHLO again, login, sendmail.
    server = smtplib.SMTP(HOST, int(PORT), timeout=30)
    server.ehlo()
    server.starttls()
    server.ehlo()
    server.login(USER, PASSWORD)
    refused = server.sendmail("sender@" + DOMAIN, [RCPT], message("SES SMTP smtplib STARTTLS").as_string())
    assert refused == {}, refused
    server.close()


@check
def message_id_in_the_reply():
    server = smtplib.SMTP(HOST, int(PORT), timeout=30)
    server.starttls()
    server.login(USER, PASSWORD)
    code, _ = server.mail("sender@" + DOMAIN)
    assert code == 250
    code, _ = server.rcpt(RCPT)
    assert code == 250
    code, resp = server.data(message("SES SMTP smtplib reply").as_string())
    assert code == 250, (code, resp)
    assert MESSAGE_ID.match(resp.decode()), resp
    server.quit()


@check
def implicit_tls_with_verified_certificate():
    ctx = ssl.create_default_context(cafile=CA)
    ctx.check_hostname = False  # the certificate names TIDINGS_HOSTNAME, we dial 127.0.0.1
    with smtplib.SMTP_SSL(SSL_HOST, int(SSL_PORT), context=ctx, timeout=30) as server:
        assert not server.has_extn("starttls")
        server.login(USER, PASSWORD)
        server.send_message(message("SES SMTP smtplib SMTP_SSL"))


@check
def auth_before_starttls_is_refused():
    server = smtplib.SMTP(HOST, int(PORT), timeout=30)
    server.ehlo()
    assert server.has_extn("starttls")
    assert not server.has_extn("auth"), server.esmtp_features
    try:
        server.login(USER, PASSWORD)
        raise AssertionError("login succeeded in clear text")
    except smtplib.SMTPNotSupportedError:
        pass
    plain = base64.b64encode(("\0" + USER + "\0" + PASSWORD).encode()).decode()
    code, resp = server.docmd("AUTH", "PLAIN " + plain)
    assert code == 530, (code, resp)
    assert b"5.7.0" in resp, resp
    server.quit()


@check
def wrong_password_is_535():
    server = smtplib.SMTP(HOST, int(PORT), timeout=30)
    server.starttls()
    try:
        server.login(USER, smtp_password(SECRET + "x", "us-east-1"))  # another secret's password
        raise AssertionError("a wrong password was accepted")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
        assert b"Authentication Credentials Invalid" in e.smtp_error, e.smtp_error


@check
def another_regions_password_logs_in():
    # A script that derives the password for the region it names (here
    # us-west-2) logs in as it would at that region's SES endpoint.
    server = smtplib.SMTP(HOST, int(PORT), timeout=30)
    server.starttls()
    code, _ = server.login(USER, smtp_password(SECRET, "us-west-2"))
    assert code == 235, code
    server.quit()


@check
def unverified_sender_is_554():
    server = smtplib.SMTP(HOST, int(PORT), timeout=30)
    server.starttls()
    server.login(USER, PASSWORD)
    try:
        server.sendmail("someone@unverified.test", [RCPT], message("never sent", "someone@unverified.test").as_string())
        raise AssertionError("an unverified sender was accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 554, e
        text = e.smtp_error.decode()
        assert "Message rejected: Email address is not verified" in text, text
        assert "someone@unverified.test" in text, text
    # The session goes on.
    code, _ = server.noop()
    assert code == 250
    server.quit()


if __name__ == "__main__":
    main()
