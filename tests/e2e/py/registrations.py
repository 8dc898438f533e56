"""boto3 against the number registrations of End User Messaging
(pinpoint-sms-voice-v2 *Registration*): the US toll-free definitions of the
seed's post, a registration filled and submitted, and every bad input with
the exception, Reason and Fields AWS answers."""

import struct
import uuid
import zlib

from common import check, client, eq, expect_error, main, strip

TFN = "US_TOLL_FREE_REGISTRATION"

VOLUMES = ["10", "100", "1,000", "10,000", "100,000", "250,000", "500,000", "750,000",
           "1,000,000", "5,000,000", "10,000,000+"]
CATEGORIES = ["Two-factor authentication", "One-time passcodes", "Notifications", "Polling and surveys",
              "Info on demand", "Promotions & marketing", "Other"]

TEXT = {
    "companyInfo.companyName": "AnyCompany",
    "companyInfo.website": "https://example.com",
    "companyInfo.address1": "123 Any Street",
    "companyInfo.city": "Anytown",
    "companyInfo.state": "WA",
    "companyInfo.zipCode": "98109",
    "companyInfo.isoCountryCode": "US",
    "contactInfo.firstName": "Jane",
    "contactInfo.lastName": "Doe",
    "contactInfo.supportEmail": "support@example.com",
    "contactInfo.supportPhoneNumber": "+12065550100",
    "messagingUseCase.useCaseDetails": "One-time passcodes for sign-in",
    "messagingUseCase.optInDescription": "Users tick a box on the sign-up form",
    "messageSamples.messageSample1": "Your code is 123456",
}


def png(size=0):
    """A 1x1 PNG, padded with a tEXt chunk to size bytes when it can be."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    body = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    out = b"\x89PNG\r\n\x1a\n" + body
    end = chunk(b"IEND", b"")
    pad = size - len(out) - len(end) - 14  # a tEXt chunk: 12 bytes of frame, "c\0"
    if pad >= 0:
        out += chunk(b"tEXt", b"c\x00" + b"x" * pad)
    return out + end


def sms(validate=True):
    return client("pinpoint-sms-voice-v2", validate=validate)


def phone_id(c):
    """A toll-free number from RequestPhoneNumber, or (before the SMS
    service is in the build) an id of the shape AWS gives."""
    try:
        out = c.request_phone_number(IsoCountryCode="US", NumberType="TOLL_FREE",
                                     NumberCapabilities=["SMS"], MessageType="TRANSACTIONAL")
        return out["PhoneNumberId"]
    except Exception as e:  # NotImplemented until the SMS service lands
        if "NotImplemented" not in str(e) and "501" not in str(e):
            raise
        return "phone-" + uuid.uuid4().hex


def fill(c, reg_id, attachment=True):
    for path, value in TEXT.items():
        c.put_registration_field_value(RegistrationId=reg_id, FieldPath=path, TextValue=value)
    c.put_registration_field_value(RegistrationId=reg_id, FieldPath="messagingUseCase.monthlyMessageVolume", SelectChoices=["1,000"])
    c.put_registration_field_value(RegistrationId=reg_id, FieldPath="messagingUseCase.useCaseCategory", SelectChoices=["One-time passcodes"])
    if attachment:
        att = c.create_registration_attachment(AttachmentBody=png())["RegistrationAttachmentId"]
        c.put_registration_field_value(RegistrationId=reg_id, FieldPath="messagingUseCase.optInImage", RegistrationAttachmentId=att)


def field_error(e, reason, *names):
    """e is a ValidationException with this Reason naming these Fields."""
    eq("Reason", e.response.get("Reason"), reason)
    got = [f["Name"] for f in e.response.get("Fields", [])]
    eq("Fields", sorted(got), sorted(names))
    for f in e.response.get("Fields", []):
        assert f.get("Message"), f"field {f['Name']} without a message"


@check
def type_definitions():
    c = sms()
    out = c.describe_registration_type_definitions()
    types = {t["RegistrationType"]: t for t in out["RegistrationTypeDefinitions"]}
    assert TFN in types, types.keys()
    sa = types[TFN]["SupportedAssociations"]
    eq("association", (sa[0]["ResourceType"], sa[0]["IsoCountryCode"], sa[0]["AssociationBehavior"]),
       ("PHONE_NUMBER", "US", "ASSOCIATE_BEFORE_SUBMIT"))
    out = c.describe_registration_type_definitions(
        Filters=[{"Name": "supported-association-iso-country-code", "Values": ["FR"]}])
    assert TFN not in [t["RegistrationType"] for t in out["RegistrationTypeDefinitions"]]
    e = expect_error("ValidationException", c.describe_registration_type_definitions, RegistrationTypes=["NO_SUCH_TYPE"])
    eq("Reason", e.response.get("Reason"), "UNKNOWN_REGISTRATION_TYPE")


@check
def field_definitions_of_the_post():
    c = sms()
    fields, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        out = c.describe_registration_field_definitions(RegistrationType=TFN, MaxResults=7, **kw)
        fields += out["RegistrationFieldDefinitions"]
        token = out.get("NextToken")
        if not token:
            break
    by = {f["FieldPath"]: f for f in fields}
    want = set(TEXT) | {"companyInfo.address2", "messagingUseCase.monthlyMessageVolume", "messagingUseCase.useCaseCategory",
                        "messagingUseCase.optInImage", "messageSamples.messageSample2", "messageSamples.messageSample3"}
    eq("field paths", set(by), want)
    eq("volumes", by["messagingUseCase.monthlyMessageVolume"]["SelectValidation"]["Options"], VOLUMES)
    eq("categories", by["messagingUseCase.useCaseCategory"]["SelectValidation"]["Options"], CATEGORIES)
    eq("max choices", by["messagingUseCase.useCaseCategory"]["SelectValidation"]["MaxChoices"], 1)
    eq("zip pattern", by["companyInfo.zipCode"]["TextValidation"]["Pattern"], "^[0-9]+$")
    eq("image type", by["messagingUseCase.optInImage"]["FieldType"], "ATTACHMENT")
    eq("address2", by["companyInfo.address2"]["FieldRequirement"], "OPTIONAL")
    eq("sample1", by["messageSamples.messageSample1"]["FieldRequirement"], "REQUIRED")
    sections = c.describe_registration_section_definitions(RegistrationType=TFN)["RegistrationSectionDefinitions"]
    eq("sections", [s["SectionPath"] for s in sections], ["companyInfo", "contactInfo", "messagingUseCase", "messageSamples"])
    one = c.describe_registration_field_definitions(RegistrationType=TFN, SectionPath="messageSamples")
    eq("section filter", len(one["RegistrationFieldDefinitions"]), 3)


@check
def register_and_submit():
    c = sms()
    reg = c.create_registration(RegistrationType=TFN, Tags=[{"Key": "Name", "Value": "boto3"}])
    eq("status", reg["RegistrationStatus"], "CREATED")
    eq("version", reg["CurrentVersionNumber"], 1)
    rid = reg["RegistrationId"]
    assert reg["RegistrationArn"].endswith(":registration/" + rid), reg["RegistrationArn"]
    fill(c, rid)
    vals = c.describe_registration_field_values(RegistrationId=rid, MaxResults=20)["RegistrationFieldValues"]
    by = {v["FieldPath"]: v for v in vals}
    eq("zip", by["companyInfo.zipCode"]["TextValue"], "98109")
    eq("volume", by["messagingUseCase.monthlyMessageVolume"]["SelectChoices"], ["1,000"])
    assert by["messagingUseCase.optInImage"]["RegistrationAttachmentId"].startswith("attachment-")
    # Deleting a value, then putting it back.
    d = c.delete_registration_field_value(RegistrationId=rid, FieldPath="companyInfo.state")
    eq("deleted value", d["TextValue"], "WA")
    c.put_registration_field_value(RegistrationId=rid, FieldPath="companyInfo.state", TextValue="WA")

    pid = phone_id(c)
    a = c.create_registration_association(RegistrationId=rid, ResourceId=pid)
    eq("association", (a["ResourceId"], a["ResourceType"], a["RegistrationType"]), (pid, "PHONE_NUMBER", TFN))
    la = c.list_registration_associations(RegistrationId=rid)["RegistrationAssociations"]
    eq("associations", [x["ResourceId"] for x in la], [pid])

    out = c.submit_registration_version(RegistrationId=rid)
    eq("version status", out["RegistrationVersionStatus"], "SUBMITTED")
    assert out["RegistrationVersionStatusHistory"]["SubmittedTimestamp"], out
    regs = c.describe_registrations(RegistrationIds=[rid])["Registrations"]
    eq("registration status", regs[0]["RegistrationStatus"], "SUBMITTED")
    vs = c.describe_registration_versions(RegistrationId=rid)["RegistrationVersions"]
    eq("versions", [(v["VersionNumber"], v["RegistrationVersionStatus"]) for v in vs], [(1, "SUBMITTED")])

    # Under review: no edits, no second submission, no deletion.
    e = expect_error("ConflictException", c.put_registration_field_value, RegistrationId=rid,
                     FieldPath="companyInfo.city", TextValue="Elsewhere")
    eq("Reason", e.response.get("Reason"), "EDIT_REGISTRATION_FIELD_VALUES_NOT_ALLOWED")
    e = expect_error("ConflictException", c.submit_registration_version, RegistrationId=rid)
    eq("Reason", e.response.get("Reason"), "REGISTRATION_ALREADY_SUBMITTED")
    e = expect_error("ConflictException", c.delete_registration, RegistrationId=rid)
    eq("Reason", e.response.get("Reason"), "RESOURCE_DELETION_NOT_ALLOWED")
    e = expect_error("ConflictException", c.create_registration_version, RegistrationId=rid)
    eq("Reason", e.response.get("Reason"), "CREATE_REGISTRATION_VERSION_NOT_ALLOWED")


@check
def field_values_outside_their_validation():
    c = sms()
    rid = c.create_registration(RegistrationType=TFN)["RegistrationId"]
    cases = [
        ("companyInfo.zipCode", {"TextValue": "98A09"}, "FIELD_VALIDATION_FAILED"),
        ("companyInfo.website", {"TextValue": "www.example.com"}, "FIELD_VALIDATION_FAILED"),
        ("contactInfo.supportEmail", {"TextValue": "not-an-address"}, "FIELD_VALIDATION_FAILED"),
        ("contactInfo.supportPhoneNumber", {"TextValue": "555-0100"}, "FIELD_VALIDATION_FAILED"),
        ("companyInfo.isoCountryCode", {"TextValue": "USA"}, "FIELD_VALIDATION_FAILED"),
        ("companyInfo.companyName", {"TextValue": "x" * 101}, "FIELD_VALIDATION_FAILED"),
        ("messagingUseCase.monthlyMessageVolume", {"SelectChoices": ["1000"]}, "FIELD_VALIDATION_FAILED"),
        ("messagingUseCase.useCaseCategory", {"SelectChoices": ["Notifications", "Other"]}, "FIELD_VALIDATION_FAILED"),
        ("messagingUseCase.useCaseCategory", {"TextValue": "Notifications"}, "INVALID_PARAMETER"),
        ("companyInfo.city", {"SelectChoices": ["Anytown"]}, "INVALID_PARAMETER"),
        ("messagingUseCase.optInImage", {"TextValue": "https://example.com/x.png"}, "INVALID_PARAMETER"),
        ("companyInfo.nickname", {"TextValue": "x"}, "UNKNOWN_REGISTRATION_FIELD"),
    ]
    for path, value, reason in cases:
        e = expect_error("ValidationException", c.put_registration_field_value, RegistrationId=rid, FieldPath=path, **value)
        field_error(e, reason, path)
    # Nothing was stored.
    eq("values", c.describe_registration_field_values(RegistrationId=rid)["RegistrationFieldValues"], [])
    e = expect_error("ResourceNotFoundException", c.put_registration_field_value, RegistrationId=rid,
                     FieldPath="messagingUseCase.optInImage", RegistrationAttachmentId="attachment-" + "0" * 32)
    eq("ResourceType", e.response.get("ResourceType"), "registration-attachment")


@check
def submit_lists_missing_fields():
    c = sms()
    rid = c.create_registration(RegistrationType=TFN)["RegistrationId"]
    c.put_registration_field_value(RegistrationId=rid, FieldPath="companyInfo.companyName", TextValue="AnyCompany")
    e = expect_error("ValidationException", c.submit_registration_version, RegistrationId=rid)
    missing = [p for p in TEXT if p != "companyInfo.companyName"] + [
        "messagingUseCase.monthlyMessageVolume", "messagingUseCase.useCaseCategory"]
    field_error(e, "MISSING_PARAMETER", *missing)
    # Complete but without a number: the toll-free type wants one first.
    fill(c, rid, attachment=False)
    e = expect_error("ValidationException", c.submit_registration_version, RegistrationId=rid)
    eq("Reason", e.response.get("Reason"), "INVALID_REGISTRATION_ASSOCIATION")
    eq("still a draft", c.describe_registrations(RegistrationIds=[rid])["Registrations"][0]["RegistrationStatus"], "CREATED")


@check
def attachments_of_the_wrong_type_or_size():
    c = sms()
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    e = expect_error("ValidationException", c.create_registration_attachment, AttachmentBody=gif)
    eq("Reason", e.response.get("Reason"), "ATTACHMENT_TYPE_NOT_SUPPORTED")
    e = expect_error("ValidationException", c.create_registration_attachment, AttachmentBody=b"just text, called optin.png")
    eq("Reason", e.response.get("Reason"), "ATTACHMENT_TYPE_NOT_SUPPORTED")
    e = expect_error("ValidationException", c.create_registration_attachment, AttachmentBody=png(500 * 1024 + 1))
    eq("Reason", e.response.get("Reason"), "MAXIMUM_SIZE_EXCEEDED")
    e = expect_error("ValidationException", c.create_registration_attachment, AttachmentUrl="s3://bucket/optin.png")
    eq("Reason", e.response.get("Reason"), "INVALID_PARAMETER")
    # The largest accepted, a JPEG and a PDF (types judged by content).
    eq("size", len(png(500 * 1024)), 500 * 1024)
    ok = [c.create_registration_attachment(AttachmentBody=b)["RegistrationAttachmentId"]
          for b in (png(500 * 1024), b"\xff\xd8\xff\xe0\x00\x10JFIF\x00rest", b"%PDF-1.4\n%%EOF\n")]
    out = c.describe_registration_attachments(RegistrationAttachmentIds=ok)["RegistrationAttachments"]
    eq("statuses", sorted(a["AttachmentStatus"] for a in out), ["UPLOAD_COMPLETE"] * 3)
    d = c.delete_registration_attachment(RegistrationAttachmentId=ok[0])
    eq("deleted", d["AttachmentStatus"], "DELETED")
    e = expect_error("ResourceNotFoundException", c.describe_registration_attachments, RegistrationAttachmentIds=[ok[0]])
    eq("ResourceId", e.response.get("ResourceId"), ok[0])


@check
def unknown_and_conflicting_resources():
    c = sms()
    missing = "registration-" + "0" * 32
    e = expect_error("ResourceNotFoundException", c.describe_registrations, RegistrationIds=[missing])
    eq("not found", (e.response.get("ResourceType"), e.response.get("ResourceId")), ("registration", missing))
    e = expect_error("ResourceNotFoundException", c.describe_registration_field_values, RegistrationId=missing)
    eq("ResourceType", e.response.get("ResourceType"), "registration")
    e = expect_error("ValidationException", c.create_registration, RegistrationType="US_NOPE_REGISTRATION")
    eq("Reason", e.response.get("Reason"), "UNKNOWN_REGISTRATION_TYPE")

    a = c.create_registration(RegistrationType=TFN)["RegistrationId"]
    b = c.create_registration(RegistrationType=TFN)["RegistrationId"]
    pid = phone_id(c)
    c.create_registration_association(RegistrationId=a, ResourceId=pid)
    e = expect_error("ConflictException", c.create_registration_association, RegistrationId=b, ResourceId=pid)
    eq("Reason", e.response.get("Reason"), "RESOURCE_ALREADY_ASSOCIATED")
    # Deleting a draft frees its number.
    eq("deleted", c.delete_registration(RegistrationId=a)["RegistrationStatus"], "DELETED")
    c.create_registration_association(RegistrationId=b, ResourceId=pid)
    expect_error("ResourceNotFoundException", c.delete_registration, RegistrationId=a)

    e = expect_error("ConflictException", c.discard_registration_version, RegistrationId=b)
    eq("Reason", e.response.get("Reason"), "DISCARD_REGISTRATION_VERSION_NOT_ALLOWED")
    e = expect_error("ValidationException", c.describe_registrations, NextToken="bm90IGEgdG9rZW4")
    eq("Reason", e.response.get("Reason"), "INVALID_NEXT_TOKEN")


@check
def describe_registrations_filters_and_pages():
    c = sms()
    mine = {c.create_registration(RegistrationType=TFN)["RegistrationId"] for _ in range(5)}
    seen, token, pages = [], None, 0
    while True:
        kw = {"NextToken": token} if token else {}
        out = c.describe_registrations(MaxResults=2, Filters=[{"Name": "registration-status", "Values": ["CREATED"]}], **kw)
        pages += 1
        assert len(out["Registrations"]) <= 2
        seen += [r["RegistrationId"] for r in out["Registrations"]]
        token = out.get("NextToken")
        if not token:
            break
    assert mine <= set(seen), (mine, seen)
    eq("no repeats", len(seen), len(set(seen)))
    assert pages >= 3, pages
    out = c.describe_registrations(Filters=[{"Name": "registration-type", "Values": ["US_TEN_DLC_CAMPAIGN_REGISTRATION"]}])
    eq("type filter", out["Registrations"], [])
    out = strip(c.describe_registrations(RegistrationIds=sorted(mine)[:2]))
    eq("by id", sorted(r["RegistrationId"] for r in out["Registrations"]), sorted(mine)[:2])


if __name__ == "__main__":
    main()
