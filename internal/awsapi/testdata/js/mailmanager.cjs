// Drives Tidings' Mail Manager API with the AWS SDK for JavaScript, in
// awsJson1_0 and in Smithy RPC v2 CBOR. Needs @aws-sdk/client-mailmanager
// and @aws-sdk/core on NODE_PATH; prints one JSON line of results.
const { MailManagerClient, ListRuleSetsCommand, GetRuleSetCommand } = require("@aws-sdk/client-mailmanager");
const { AwsSmithyRpcV2CborProtocol } = require("@aws-sdk/core/protocols");

async function run(protocol) {
  const paths = [];
  const client = new MailManagerClient({
    endpoint: process.env.ENDPOINT,
    region: "us-east-1",
    credentials: { accessKeyId: process.env.KEY_ID, secretAccessKey: process.env.SECRET },
    maxAttempts: 1,
    ...(protocol ? { protocol } : {}),
  });
  client.middlewareStack.add((next) => async (args) => {
    paths.push(args.request.path);
    return next(args);
  }, { step: "finalizeRequest" });
  const list = await client.send(new ListRuleSetsCommand({ PageSize: 3 }));
  let error = {};
  try {
    await client.send(new GetRuleSetCommand({ RuleSetId: "rs-nope" }));
  } catch (e) {
    error = { name: e.name, message: e.message, status: e.$metadata.httpStatusCode, requestId: e.$metadata.requestId };
  }
  return {
    paths,
    ruleSetId: list.RuleSets[0].RuleSetId,
    modified: list.RuleSets[0].LastModificationDate.toISOString(),
    error,
  };
}

(async () => {
  const out = { json: await run(null), cbor: await run(AwsSmithyRpcV2CborProtocol) };
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
