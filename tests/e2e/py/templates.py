"""boto3 against the SES v2 and v1 email template operations: CRUD,
pagination, TestRender's MIME message, and the AWS exceptions of bad input."""

import email
import email.policy

from common import check, client, eq, expect_error, main, unique

v2 = client("sesv2")
v1 = client("ses")
v2_raw = client("sesv2", validate=False)

HTML = "<h1>Hello {{name}},</h1><ul>{{#each items}}<li>{{@index}}: {{this}}</li>{{/each}}</ul>"
TEXT = "Dear {{name}},\n{{#if vip}}Thanks for being a VIP.{{else}}Welcome.{{/if}}"


def parse(raw):
    return email.message_from_string(raw, policy=email.policy.default)


@check
def v2_crud():
    name = unique("tpl")
    v2.create_email_template(TemplateName=name, TemplateContent={"Subject": "Hi {{name}}", "Html": HTML, "Text": TEXT},
                             Tags=[{"Key": "team", "Value": "growth"}])
    got = v2.get_email_template(TemplateName=name)
    eq("TemplateName", got["TemplateName"], name)
    eq("TemplateContent", got["TemplateContent"], {"Subject": "Hi {{name}}", "Html": HTML, "Text": TEXT})
    eq("Tags", got["Tags"], [{"Key": "team", "Value": "growth"}])
    v2.update_email_template(TemplateName=name, TemplateContent={"Subject": "Bye {{name}}", "Text": "x"})
    got = v2.get_email_template(TemplateName=name)
    eq("updated", got["TemplateContent"], {"Subject": "Bye {{name}}", "Text": "x"})
    v2.delete_email_template(TemplateName=name)
    expect_error("NotFoundException", v2.get_email_template, TemplateName=name, status=404, mentions=[name])
    expect_error("NotFoundException", v2.delete_email_template, TemplateName=name)
    expect_error("NotFoundException", v2.update_email_template, TemplateName=name, TemplateContent={"Text": "x"})


@check
def v2_already_exists():
    name = unique("dup")
    v2.create_email_template(TemplateName=name, TemplateContent={"Text": "a"})
    expect_error("AlreadyExistsException", v2.create_email_template, TemplateName=name,
                 TemplateContent={"Text": "b"}, mentions=[name])
    eq("unchanged", v2.get_email_template(TemplateName=name)["TemplateContent"]["Text"], "a")


@check
def v2_pagination():
    prefix = unique("page")
    names = [f"{prefix}-{i}" for i in range(7)]
    for n in names:
        v2.create_email_template(TemplateName=n, TemplateContent={"Text": n})
    seen, token, pages = [], None, 0
    while True:
        kw = {"PageSize": 3}
        if token:
            kw["NextToken"] = token
        out = v2.list_email_templates(**kw)
        assert len(out["TemplatesMetadata"]) <= 3, out
        for m in out["TemplatesMetadata"]:
            assert m["CreatedTimestamp"] is not None
            seen.append(m["TemplateName"])
        pages += 1
        token = out.get("NextToken")
        if not token:
            break
    eq("listed", [n for n in seen if n.startswith(prefix)], names)
    assert pages >= 3, pages
    expect_error("BadRequestException", v2.list_email_templates, NextToken="bogus")


@check
def v2_test_render():
    name = unique("render")
    v2.create_email_template(TemplateName=name, TemplateContent={"Subject": "Olá {{name}}", "Html": HTML, "Text": TEXT})
    out = v2.test_render_email_template(TemplateName=name,
                                        TemplateData='{"name": "Ana <3", "items": ["a", "b"], "vip": true}')
    msg = parse(out["RenderedTemplate"])
    eq("Subject", str(msg["Subject"]), "Olá Ana <3")
    assert msg["Message-ID"] and msg["Date"], out["RenderedTemplate"]
    eq("type", msg.get_content_type(), "multipart/alternative")
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    eq("html", parts["text/html"], "<h1>Hello Ana &lt;3,</h1><ul><li>0: a</li><li>1: b</li></ul>")
    eq("text", parts["text/plain"].replace("\r\n", "\n"), "Dear Ana <3,\nThanks for being a VIP.")


@check
def v2_render_errors():
    name = unique("rerr")
    v2.create_email_template(TemplateName=name, TemplateContent={"Subject": "Hi {{name}}", "Text": "x"})
    expect_error("BadRequestException", v2.test_render_email_template, TemplateName=name,
                 TemplateData="{not json", mentions=["JSON"])
    expect_error("BadRequestException", v2.test_render_email_template, TemplateName=name,
                 TemplateData="{}", mentions=["Attribute 'name' is not present in the rendering data"])
    expect_error("NotFoundException", v2.test_render_email_template, TemplateName=name + "-x", TemplateData="{}")
    expect_error("BadRequestException", v2.create_email_template, TemplateName=unique("syntax"),
                 TemplateContent={"Html": "<p>{{#if a}}</p>"}, mentions=["line 1:4", "never closed"])
    expect_error("BadRequestException", v2.create_email_template, TemplateName="bad name!",
                 TemplateContent={"Text": "x"})
    expect_error("BadRequestException", v2.create_email_template, TemplateName=unique("big"),
                 TemplateContent={"Html": "x" * (500 * 1024 + 1)}, mentions=["500 KB"])
    expect_error("BadRequestException", v2_raw.create_email_template, TemplateName=unique("nocontent"))


@check
def v1_crud_and_render():
    name = unique("v1")
    v1.create_template(Template={"TemplateName": name, "SubjectPart": "Greetings, {{name}}!",
                                 "HtmlPart": "<h1>Hello {{name}},</h1><p>Your favorite animal is {{favoriteanimal}}.</p>",
                                 "TextPart": "Dear {{name}},\r\nYour favorite animal is {{favoriteanimal}}."})
    got = v1.get_template(TemplateName=name)["Template"]
    eq("SubjectPart", got["SubjectPart"], "Greetings, {{name}}!")
    listed = [m["Name"] for m in v1.list_templates(MaxItems=100)["TemplatesMetadata"]]
    assert name in listed, listed
    out = v1.test_render_template(TemplateName=name, TemplateData='{ "name":"Alejandro", "favoriteanimal": "alligator" }')
    msg = parse(out["RenderedTemplate"])
    eq("Subject", str(msg["Subject"]), "Greetings, Alejandro!")
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    eq("html", parts["text/html"], "<h1>Hello Alejandro,</h1><p>Your favorite animal is alligator.</p>")
    v1.update_template(Template={"TemplateName": name, "SubjectPart": "New", "TextPart": "t"})
    eq("updated", v1.get_template(TemplateName=name)["Template"].get("HtmlPart"), None)
    v1.delete_template(TemplateName=name)
    expect_error("TemplateDoesNotExist", v1.get_template, TemplateName=name)
    # v1 DeleteTemplate of an absent name succeeds, as in SES.
    v1.delete_template(TemplateName=name)


@check
def v1_errors():
    name = unique("v1err")
    v1.create_template(Template={"TemplateName": name, "SubjectPart": "{{a}}", "TextPart": "{{b.c}}"})
    expect_error("AlreadyExists", v1.create_template, Template={"TemplateName": name, "TextPart": "x"})
    expect_error("InvalidRenderingParameter", v1.test_render_template, TemplateName=name, TemplateData="[1,")
    expect_error("MissingRenderingAttribute", v1.test_render_template, TemplateName=name, TemplateData='{"a": 1}',
                 mentions=["b.c"])
    expect_error("TemplateDoesNotExist", v1.test_render_template, TemplateName=name + "-x", TemplateData="{}")
    expect_error("TemplateDoesNotExist", v1.update_template, Template={"TemplateName": name + "-x", "TextPart": "x"})
    expect_error("InvalidTemplate", v1.create_template, Template={"TemplateName": unique("bad"), "TextPart": "{{/each}}"})


main()
