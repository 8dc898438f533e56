// End User Messaging SMS through @aws-sdk/client-pinpoint-sms-voice-v2:
// a simulator number, a configuration set, a send to the US success
// simulator number, an opt-out list and the exceptions' members.
//
// Run by tests/e2e (sms_test.go) with AWS_ENDPOINT_URL and the key in the
// environment. Each check is reported as one JSON line {"check", "ok", "detail"}.
import assert from "node:assert/strict";
import {
  PinpointSMSVoiceV2Client,
  RequestPhoneNumberCommand,
  DescribePhoneNumbersCommand,
  ReleasePhoneNumberCommand,
  CreateConfigurationSetCommand,
  DeleteConfigurationSetCommand,
  SendTextMessageCommand,
  CreateOptOutListCommand,
  PutOptedOutNumberCommand,
  DescribeOptedOutNumbersCommand,
  DeleteOptOutListCommand,
  UpdatePhoneNumberCommand,
  DescribeSpendLimitsCommand,
  SetTextMessageSpendLimitOverrideCommand,
} from "@aws-sdk/client-pinpoint-sms-voice-v2";

const sms = new PinpointSMSVoiceV2Client({
  endpoint: process.env.AWS_ENDPOINT_URL,
  region: process.env.AWS_DEFAULT_REGION ?? "us-east-1",
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
  maxAttempts: 1,
});
const SUCCESS = "+14254147755";
const suffix = () => Math.random().toString(16).slice(2, 10);

async function expectError(name, p) {
  try {
    const out = await p;
    assert.fail(`succeeded (${JSON.stringify(out)}), want ${name}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.name, name, `error ${e.name} (${e.message}), want ${name}`);
    assert.ok(e.$metadata?.requestId, `${name} without x-amzn-RequestId`);
    return e;
  }
}

const checks = [];
const check = (n, fn) => checks.push([n, fn]);

check("send_to_simulator", async () => {
  const n = await sms.send(new RequestPhoneNumberCommand({
    IsoCountryCode: "US", MessageType: "TRANSACTIONAL", NumberCapabilities: ["SMS"], NumberType: "SIMULATOR",
  }));
  assert.equal(n.Status, "ACTIVE");
  assert.ok(n.CreatedTimestamp instanceof Date);
  const d = await sms.send(new DescribePhoneNumbersCommand({ PhoneNumberIds: [n.PhoneNumberId] }));
  assert.equal(d.PhoneNumbers[0].PhoneNumber, n.PhoneNumber);
  const cs = `js-${suffix()}`;
  await sms.send(new CreateConfigurationSetCommand({ ConfigurationSetName: cs }));
  const out = await sms.send(new SendTextMessageCommand({
    DestinationPhoneNumber: SUCCESS, OriginationIdentity: n.PhoneNumberArn, MessageBody: "Your code is 123456",
    MessageType: "TRANSACTIONAL", ConfigurationSetName: cs, Context: { user_id: "u1" },
  }));
  assert.match(out.MessageId, /^[0-9a-f]{32}$/);
  await sms.send(new DeleteConfigurationSetCommand({ ConfigurationSetName: cs }));
  const e = await expectError("ResourceNotFoundException", sms.send(new SendTextMessageCommand({
    DestinationPhoneNumber: SUCCESS, MessageBody: "x", ConfigurationSetName: cs,
  })));
  assert.equal(e.ResourceType, "configuration-set");
  assert.equal(e.ResourceId, cs);
  await sms.send(new ReleasePhoneNumberCommand({ PhoneNumberId: n.PhoneNumberId }));
});

check("opt_out_conflict", async () => {
  const n = await sms.send(new RequestPhoneNumberCommand({
    IsoCountryCode: "US", MessageType: "TRANSACTIONAL", NumberCapabilities: ["SMS"], NumberType: "SIMULATOR",
  }));
  const list = `js-${suffix()}`;
  await sms.send(new CreateOptOutListCommand({ OptOutListName: list }));
  await sms.send(new UpdatePhoneNumberCommand({ PhoneNumberId: n.PhoneNumberId, OptOutListName: list }));
  await sms.send(new PutOptedOutNumberCommand({ OptOutListName: list, OptedOutNumber: SUCCESS }));
  const got = await sms.send(new DescribeOptedOutNumbersCommand({ OptOutListName: list }));
  assert.deepEqual(got.OptedOutNumbers.map((o) => [o.OptedOutNumber, o.EndUserOptedOut]), [[SUCCESS, false]]);
  const e = await expectError("ConflictException", sms.send(new SendTextMessageCommand({
    DestinationPhoneNumber: SUCCESS, OriginationIdentity: n.PhoneNumberId, MessageBody: "x",
  })));
  assert.equal(e.Reason, "DESTINATION_PHONE_NUMBER_OPTED_OUT");
  await expectError("ConflictException", sms.send(new DeleteOptOutListCommand({ OptOutListName: list })));
  await sms.send(new ReleasePhoneNumberCommand({ PhoneNumberId: n.PhoneNumberId }));
  await sms.send(new DeleteOptOutListCommand({ OptOutListName: list }));
});

check("spend_limits", async () => {
  await sms.send(new SetTextMessageSpendLimitOverrideCommand({ MonthlyLimit: 25 }));
  const l = await sms.send(new DescribeSpendLimitsCommand({}));
  const text = l.SpendLimits.find((x) => x.Name === "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT");
  assert.equal(text.EnforcedLimit, 25);
  assert.equal(text.Overridden, true);
});

let failed = 0;
for (const [n, fn] of checks) {
  let ok = true;
  let detail = "";
  try {
    await fn();
  } catch (e) {
    ok = false;
    failed++;
    detail = (e?.stack ?? String(e)).split("\n").slice(0, 8).join("\n");
  }
  console.log(JSON.stringify({ check: n, ok, detail }));
}
process.exit(failed ? 1 : 0);
