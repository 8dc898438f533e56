// The web console in real headless Chromium (Debian's chromium, driven by
// playwright-core): log in, search, open a message (its HTML in the
// sandboxed iframe, script not run, the remote image not loaded),
// download an attachment, export the search and follow the progress bar to
// the download, read the history, log out.
//
// Run by tests/e2e (console_test.go) with CONSOLE_* in the environment.
// Each check is reported as one JSON line {"check", "ok", "detail"};
// screenshots go to CONSOLE_ARTIFACTS.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { chromium } from "playwright-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) {
    console.error(`missing ${k}`);
    process.exit(2);
  }
  return v;
};
const base = env("CONSOLE_URL");
const keyID = env("CONSOLE_KEY_ID");
const secret = env("CONSOLE_SECRET");
const archiveID = env("CONSOLE_ARCHIVE_ID");
const archiveName = env("CONSOLE_ARCHIVE_NAME");
const tracker = env("CONSOLE_TRACKER_URL");
const artifacts = env("CONSOLE_ARTIFACTS");

let failed = 0;
const started = Date.now();
function report(check, ok, detail = "") {
  if (!ok) failed++;
  console.error(`${((Date.now() - started) / 1000).toFixed(1)}s ${ok ? "ok" : "FAIL"} ${check}`);
  console.log(JSON.stringify({ check, ok, detail: String(detail) }));
}
async function check(name, fn) {
  try {
    const detail = await fn();
    report(name, true, detail ?? "");
    return true;
  } catch (e) {
    report(name, false, e?.stack ?? e);
    return false;
  }
}
function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function shot(page, name) {
  await page.screenshot({ path: path.join(artifacts, name), fullPage: true });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(60000);

// Every request the browser makes, and how those to the tracker ended:
// none may get an answer (the page's CSP blocks them before they leave).
const requests = [];
const trackerAnswered = [];
const trackerBlocked = [];
context.on("request", (r) => requests.push(r.url()));
context.on("response", (r) => {
  if (r.url().startsWith(tracker)) trackerAnswered.push(r.url());
});
context.on("requestfailed", (r) => {
  if (r.url().startsWith(tracker)) trackerBlocked.push(`${r.url()} ${r.failure()?.errorText}`);
});
const cspViolations = [];
page.on("console", (m) => {
  if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
});

try {
  await check("unauthenticated visit goes to the login page", async () => {
    const resp = await page.goto(`${base}/console/archives`);
    expect(new URL(page.url()).pathname === "/console/login", `at ${page.url()}`);
    const csp = resp.headers()["content-security-policy"];
    expect(csp.includes("default-src 'self'") && csp.includes("frame-ancestors 'none'"), `CSP ${csp}`);
    await shot(page, "01-login.png");
  });

  await check("a wrong secret is refused", async () => {
    await page.getByLabel("Access key ID or account ID").fill(keyID);
    await page.getByLabel("Secret access key or password").fill("not the secret");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").waitFor();
    const text = await page.getByRole("alert").textContent();
    expect(text === "The ID or the secret is wrong.", text);
  });

  await check("log in with the access key", async () => {
    await page.getByLabel("Access key ID or account ID").fill(keyID);
    await page.getByLabel("Secret access key or password").fill(secret);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${base}/console/archives`);
    const cookies = await context.cookies(`${base}/console/`);
    const c = cookies.find((c) => c.name === "tidings_console");
    expect(c && c.httpOnly && c.sameSite === "Strict", JSON.stringify(c));
  });

  await check("the archives page lists the archive, the navigation marks it", async () => {
    await page.getByRole("link", { name: archiveName }).waitFor();
    const current = await page.locator('nav[aria-label="Main"] [aria-current="page"]').textContent();
    expect(current.trim() === "Archives", current);
    await shot(page, "02-archives.png");
  });

  await check("search by sender", async () => {
    await page.getByRole("link", { name: archiveName }).click();
    await page.waitForURL(`${base}/console/archives/${archiveID}`);
    await page.getByLabel("From", { exact: true }).fill("alice");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/from=alice/);
    const rows = await page.locator("table.results tbody tr").count();
    expect(rows === 3, `${rows} rows, want 3`);
    expect((await page.content()).includes("Unrelated") === false, "bob's message listed");
    await shot(page, "03-search-from.png");
  });

  await check("search by words and attachments", async () => {
    await page.getByLabel("Words").fill("figures");
    await page.getByLabel("Attachments").selectOption("yes");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/attach=yes/);
    const rows = await page.locator("table.results tbody tr").count();
    expect(rows === 1, `${rows} rows, want 1`);
    await page.getByLabel("Words").fill("");
    await page.getByLabel("Attachments").selectOption("");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL((u) => !u.search.includes("attach=yes"));
  });

  await check("a bad date range is explained", async () => {
    const u = `${base}/console/archives/${archiveID}?since=2026-05-02&until=2026-05-01`;
    const resp = await page.goto(u);
    expect(resp.status() === 400, `status ${resp.status()}`);
    const text = await page.getByRole("alert").textContent();
    expect(text.includes("date range is empty"), text);
    await page.goto(`${base}/console/archives/${archiveID}?from=alice`);
  });

  await check("open a message: headers and text", async () => {
    await page.getByRole("link", { name: "Quarterly figures" }).click();
    await page.waitForURL(/\/messages\//);
    await page.getByRole("heading", { name: "Quarterly figures", level: 1 }).waitFor();
    const headers = await page.locator("table.headers").textContent();
    expect(headers.includes("alice@ext.example"), headers);
    expect(headers.includes("sender@ext.example"), "envelope sender missing");
    const text = await page.locator("pre.body").textContent();
    expect(text.includes("The figures are attached."), text);
  });

  await check("the HTML body is in a sandboxed iframe without scripts", async () => {
    const iframe = page.locator("iframe.body");
    const sandbox = await iframe.getAttribute("sandbox");
    expect(sandbox === "", `sandbox="${sandbox}"`);
    const frame = page.frameLocator("iframe.body");
    const greeting = await frame.locator("#greeting").textContent();
    expect(greeting === "The figures are attached.", greeting);
    expect((await frame.locator("#pwned").count()) === 0, "the message's script ran");
  });

  await check("the remote image was not loaded", async () => {
    const frame = page.frames().find((f) => f.url().endsWith("/html"));
    expect(frame, "no frame of the HTML body");
    const loaded = await frame.evaluate(() => {
      const img = document.getElementById("tracker");
      return img.complete && img.naturalWidth > 0;
    });
    expect(!loaded, "the tracker image loaded");
    expect(trackerAnswered.length === 0, `the tracker answered: ${trackerAnswered}`);
    const attempted = requests.filter((u) => u.startsWith(tracker)).length;
    expect(trackerBlocked.length === attempted, `attempts ${attempted}, blocked: ${trackerBlocked}`);
    expect(trackerBlocked.every((b) => /csp/i.test(b.split(" ").pop())), `blocked: ${trackerBlocked}`);
    await shot(page, "04-message.png");
    return `blocked: ${trackerBlocked.join("; ")}`;
  });

  await check("the inline (cid:) image is shown", async () => {
    const frame = page.frames().find((f) => f.url().endsWith("/html"));
    const width = await frame.evaluate(async () => {
      const img = document.getElementById("logo");
      if (!img.complete) await new Promise((r) => img.addEventListener("load", r, { once: true }));
      return img.naturalWidth;
    });
    expect(width === 1, `naturalWidth ${width}`);
  });

  await check("the HTML route has its own CSP", async () => {
    const frame = page.frames().find((f) => f.url().endsWith("/html"));
    const resp = await page.context().request.get(frame.url());
    const csp = resp.headers()["content-security-policy"];
    expect(csp.includes("default-src 'none'") && csp.includes("img-src data: cid:") && csp.includes("sandbox"), csp);
  });

  await check("download the attachment", async () => {
    const [dl] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "figures.csv" }).click(),
    ]);
    expect(dl.suggestedFilename() === "figures.csv", dl.suggestedFilename());
    const body = await readFile(await dl.path(), "utf8");
    expect(body === "quarter,revenue\r\nQ1,100\r\nQ2,120\r\n", JSON.stringify(body));
  });

  await check("download the message as received", async () => {
    const [dl] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download the message (.eml)" }).click(),
    ]);
    const body = await readFile(await dl.path(), "utf8");
    expect(body.includes("Subject: Quarterly figures\r\n"), body.slice(0, 300));
  });

  let exportURL;
  await check("start an export of the search", async () => {
    await page.getByRole("link", { name: "Back to the search" }).click();
    await page.waitForURL(/from=alice/);
    await page.getByRole("button", { name: "Export these messages" }).click();
    await page.waitForURL(/\/exports\/[0-9a-f-]+$/);
    exportURL = page.url();
  });

  await check("the progress bar reaches the end and offers the download", async () => {
    await page.locator("#export-done").waitFor({ state: "visible", timeout: 60000 });
    const state = await page.locator("#export-state").textContent();
    expect(state === "COMPLETED", state);
    const value = await page.locator("#export-bar").evaluate((p) => p.value);
    expect(value === 100, `progress ${value}`);
    const count = await page.locator("#export-count").textContent();
    expect(count.startsWith("3 of 3 messages"), count);
    await shot(page, "05-export.png");
  });

  await check("download the export", async () => {
    const [dl] = await Promise.all([page.waitForEvent("download"), page.locator("#export-download").click()]);
    expect(dl.suggestedFilename().endsWith(".zip"), dl.suggestedFilename());
    const body = await readFile(await dl.path());
    expect(body.subarray(0, 4).toString("binary") === "PK\x03\x04", "not a zip file");
    const names = (body.toString("binary").match(/[0-9a-v]{32}\.eml/g) ?? []);
    expect(new Set(names).size === 3, `eml files: ${names}`);
  });

  await check("the history lists the search and the export", async () => {
    await page.getByRole("link", { name: "Search and export history" }).click();
    await page.waitForURL(/\/history$/);
    const text = await page.locator("main").textContent();
    const exportID = exportURL.split("/").pop();
    expect(text.includes(exportID), "export missing");
    expect(text.includes('from:"alice"'), "console search missing");
    await shot(page, "06-history.png");
  });

  await check("an unknown page is a 404 page", async () => {
    const resp = await page.goto(`${base}/console/no/such/page`);
    expect(resp.status() === 404, `status ${resp.status()}`);
    await page.getByRole("heading", { name: "Page not found" }).waitFor();
  });

  await check("keyboard: the skip link is first and leads to the content", async () => {
    await page.goto(`${base}/console/archives`);
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => document.activeElement?.textContent);
    expect(focused === "Skip to content", `first focus: ${focused}`);
  });

  await check("log out", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(`${base}/console/login`);
    await page.goto(`${base}/console/archives`);
    expect(new URL(page.url()).pathname === "/console/login", `at ${page.url()}`);
  });

  await check("no request reached the tracker, in the whole session", async () => {
    expect(trackerAnswered.length === 0, `${trackerAnswered}`);
    return `${requests.length} requests, ${trackerBlocked.length} to the tracker blocked, ${cspViolations.length} CSP reports`;
  });
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
