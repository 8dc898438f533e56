// Mail Manager CRUD through @aws-sdk/client-mailmanager, in its default
// awsJson1_0 protocol or (with argument "cbor") Smithy RPC v2 CBOR.
//
// Run by tests/e2e (js_test.go) with AWS_ENDPOINT_URL and the key in the
// environment. Each check is reported as one JSON line
// {"check", "ok", "detail"}; a wire log kept by a middleware proves which
// protocol was really spoken.
import assert from "node:assert/strict";
import {
  MailManagerClient,
  CreateArchiveCommand,
  DeleteArchiveCommand,
  CreateTrafficPolicyCommand,
  GetTrafficPolicyCommand,
  UpdateTrafficPolicyCommand,
  ListTrafficPoliciesCommand,
  DeleteTrafficPolicyCommand,
  CreateRuleSetCommand,
  GetRuleSetCommand,
  UpdateRuleSetCommand,
  ListRuleSetsCommand,
  DeleteRuleSetCommand,
  ListTagsForResourceCommand,
} from "@aws-sdk/client-mailmanager";
import { AwsSmithyRpcV2CborProtocol } from "@aws-sdk/core/protocols";

const mode = process.argv[2] ?? "json";
if (mode !== "json" && mode !== "cbor") {
  console.error(`usage: node mailmanager.mjs json|cbor`);
  process.exit(2);
}

const config = {
  endpoint: process.env.AWS_ENDPOINT_URL,
  region: process.env.AWS_DEFAULT_REGION ?? "us-east-1",
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  },
  maxAttempts: 1,
};
if (mode === "cbor") {
  // The client builds the protocol from this class and its own
  // protocolSettings (see @smithy/core's client config resolution).
  config.protocol = AwsSmithyRpcV2CborProtocol;
}
const mm = new MailManagerClient(config);

// Every HTTP exchange, recorded innermost in the deserialize step, where the
// request is signed and final and the response still raw.
const wire = [];
mm.middlewareStack.add(
  (next) => async (args) => {
    const req = args.request;
    const h = req.headers ?? {};
    const entry = {
      method: req.method,
      path: req.path,
      contentType: h["content-type"],
      smithyProtocol: h["smithy-protocol"],
      target: h["x-amz-target"],
      authorization: h["authorization"] ?? "",
    };
    wire.push(entry);
    const out = await next(args);
    entry.status = out.response?.statusCode;
    entry.responseType = out.response?.headers?.["content-type"];
    entry.responseSmithyProtocol = out.response?.headers?.["smithy-protocol"];
    entry.requestId = out.response?.headers?.["x-amzn-requestid"];
    return out;
  },
  { step: "deserialize", name: "tidingsWireLog", priority: "low" },
);

const suffix = () => Math.random().toString(16).slice(2, 10);
const name = (p) => `${p}-${mode}-${suffix()}`;

// canonical drops undefined members (the SDK leaves none on the wire) so
// that answers compare by value with what was sent.
function canonical(v) {
  return JSON.parse(JSON.stringify(v));
}

function recent(d, what) {
  assert.ok(d instanceof Date, `${what}: want a Date, got ${JSON.stringify(d)}`);
  const age = Date.now() - d.getTime();
  assert.ok(age > -300e3 && age < 1800e3, `${what}: ${d.toISOString()} is not near now`);
}

async function expectError(name, p, mentions = []) {
  try {
    const out = await p;
    assert.fail(`succeeded (${JSON.stringify(out)}), want ${name}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    assert.equal(e.name, name, `error ${e.name} (${e.message}), want ${name}`);
    for (const m of mentions) {
      // AWS names members by their path in lower camel case: compare without case.
      assert.ok(String(e.message).toLowerCase().includes(m.toLowerCase()), `${name} message ${JSON.stringify(e.message)} does not mention ${m}`);
    }
    assert.ok(e.$metadata?.requestId, `${name} without x-amzn-RequestId`);
    return e;
  }
}

const checks = [];
const check = (n, fn) => checks.push([n, fn]);

check("traffic_policy_crud", async () => {
  const tpName = name("tp");
  const statements = [
    {
      Action: "ALLOW",
      Conditions: [
        { IpExpression: { Evaluate: { Attribute: "SENDER_IP" }, Operator: "CIDR_MATCHES", Values: ["198.51.100.0/24"] } },
        { StringExpression: { Evaluate: { Attribute: "RECIPIENT" }, Operator: "CONTAINS", Values: ["@corp."] } },
      ],
    },
  ];
  const { TrafficPolicyId: id } = await mm.send(
    new CreateTrafficPolicyCommand({
      TrafficPolicyName: tpName,
      DefaultAction: "DENY",
      PolicyStatements: statements,
      MaxMessageSizeBytes: 10485760,
      Tags: [{ Key: "sdk", Value: mode }],
    }),
  );
  assert.ok(id, "no TrafficPolicyId");
  let got = await mm.send(new GetTrafficPolicyCommand({ TrafficPolicyId: id }));
  assert.equal(got.TrafficPolicyId, id);
  assert.equal(got.TrafficPolicyName, tpName);
  assert.equal(got.DefaultAction, "DENY");
  assert.equal(got.MaxMessageSizeBytes, 10485760);
  assert.deepEqual(canonical(got.PolicyStatements), statements);
  assert.ok(got.TrafficPolicyArn?.endsWith("/" + id), `TrafficPolicyArn ${got.TrafficPolicyArn}`);
  recent(got.CreatedTimestamp, "CreatedTimestamp");
  const tags = await mm.send(new ListTagsForResourceCommand({ ResourceArn: got.TrafficPolicyArn }));
  assert.deepEqual(canonical(tags.Tags), [{ Key: "sdk", Value: mode }]);

  await expectError("ConflictException",
    mm.send(new CreateTrafficPolicyCommand({ TrafficPolicyName: tpName, DefaultAction: "ALLOW", PolicyStatements: [] })));
  await expectError("ValidationException",
    mm.send(new CreateTrafficPolicyCommand({ TrafficPolicyName: "ab", DefaultAction: "ALLOW", PolicyStatements: [] })),
    ["TrafficPolicyName"]);

  await mm.send(new UpdateTrafficPolicyCommand({ TrafficPolicyId: id, TrafficPolicyName: tpName + "-v2", DefaultAction: "ALLOW" }));
  got = await mm.send(new GetTrafficPolicyCommand({ TrafficPolicyId: id }));
  assert.equal(got.TrafficPolicyName, tpName + "-v2");
  assert.equal(got.DefaultAction, "ALLOW");
  assert.equal(got.MaxMessageSizeBytes, 10485760, "update must keep what it does not name");
  assert.deepEqual(canonical(got.PolicyStatements), statements);
  recent(got.LastUpdatedTimestamp, "LastUpdatedTimestamp");

  const list = await mm.send(new ListTrafficPoliciesCommand({}));
  const item = list.TrafficPolicies.find((p) => p.TrafficPolicyId === id);
  assert.ok(item, `ListTrafficPolicies lacks ${id}`);
  assert.equal(item.TrafficPolicyName, tpName + "-v2");

  await mm.send(new DeleteTrafficPolicyCommand({ TrafficPolicyId: id }));
  await expectError("ResourceNotFoundException", mm.send(new GetTrafficPolicyCommand({ TrafficPolicyId: id })));
});

check("rule_set_crud", async () => {
  const { ArchiveId: archive } = await mm.send(new CreateArchiveCommand({ ArchiveName: name("arch") }));
  const rsName = name("rs");
  const rules = [
    {
      Name: "big-to-archive",
      Conditions: [
        { NumberExpression: { Evaluate: { Attribute: "MESSAGE_SIZE" }, Operator: "GREATER_THAN_OR_EQUAL", Value: 1.5 } },
        { DmarcExpression: { Operator: "NOT_EQUALS", Values: ["REJECT", "QUARANTINE"] } },
      ],
      Actions: [
        { Archive: { TargetArchive: archive, ActionFailurePolicy: "CONTINUE" } },
        { AddHeader: { HeaderName: "X-Archived", HeaderValue: "yes" } },
      ],
    },
    {
      Name: "tls-or-drop",
      Unless: [{ BooleanExpression: { Evaluate: { Attribute: "TLS" }, Operator: "IS_TRUE" } }],
      Actions: [{ Drop: {} }],
    },
  ];
  const { RuleSetId: id } = await mm.send(new CreateRuleSetCommand({ RuleSetName: rsName, Rules: rules }));
  assert.ok(id, "no RuleSetId");
  let got = await mm.send(new GetRuleSetCommand({ RuleSetId: id }));
  assert.equal(got.RuleSetName, rsName);
  assert.deepEqual(canonical(got.Rules), rules);
  assert.ok(got.RuleSetArn?.endsWith("/" + id), `RuleSetArn ${got.RuleSetArn}`);
  recent(got.CreatedDate, "CreatedDate");
  recent(got.LastModificationDate, "LastModificationDate");

  // What a rule set uses cannot be deleted.
  await expectError("ConflictException", mm.send(new DeleteArchiveCommand({ ArchiveId: archive })));

  const rules2 = [rules[1]];
  await mm.send(new UpdateRuleSetCommand({ RuleSetId: id, Rules: rules2 }));
  got = await mm.send(new GetRuleSetCommand({ RuleSetId: id }));
  assert.equal(got.RuleSetName, rsName, "update must keep the name it does not change");
  assert.deepEqual(canonical(got.Rules), rules2);

  const list = await mm.send(new ListRuleSetsCommand({}));
  const item = list.RuleSets.find((r) => r.RuleSetId === id);
  assert.ok(item, `ListRuleSets lacks ${id}`);
  assert.equal(item.RuleSetName, rsName);
  recent(item.LastModificationDate, "ListRuleSets LastModificationDate");

  await mm.send(new DeleteRuleSetCommand({ RuleSetId: id }));
  await expectError("ResourceNotFoundException", mm.send(new GetRuleSetCommand({ RuleSetId: id })));
  await mm.send(new DeleteArchiveCommand({ ArchiveId: archive }));
});

// Runs last: every exchange above must have used the chosen protocol.
check(`wire_protocol_is_${mode}`, async () => {
  assert.ok(wire.length >= 10, `only ${wire.length} requests logged`);
  for (const w of wire) {
    assert.equal(w.method, "POST");
    assert.match(w.authorization, /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/ses\/aws4_request/, "SigV4 with signing name ses");
    assert.ok(w.requestId, `no x-amzn-RequestId on ${w.path} ${w.target ?? ""}`);
    if (mode === "cbor") {
      assert.match(w.path, /^\/service\/MailManagerSvc\/operation\/[A-Za-z]+$/, "CBOR request path");
      assert.equal(w.contentType, "application/cbor", `request content-type on ${w.path}`);
      assert.equal(w.smithyProtocol, "rpc-v2-cbor", `smithy-protocol header on ${w.path}`);
      assert.equal(w.target, undefined, "no X-Amz-Target in RPC v2");
      assert.equal(w.responseType, "application/cbor", `response content-type on ${w.path} (status ${w.status})`);
      assert.equal(w.responseSmithyProtocol, "rpc-v2-cbor", `response smithy-protocol on ${w.path} (status ${w.status})`);
    } else {
      assert.equal(w.path, "/");
      assert.equal(w.contentType, "application/x-amz-json-1.0");
      assert.match(w.target ?? "", /^MailManagerSvc\.[A-Za-z]+$/);
      assert.match(w.responseType ?? "", /^application\/x-amz-json-1\.0/, `response content-type for ${w.target} (status ${w.status})`);
    }
  }
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
