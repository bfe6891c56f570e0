// The dashboard in a real browser: starts the real rampart (two workers, an
// admin listener with a token) in front of the real test upstream
// (tests/integration/upstream_server.py), drives a bounded load on loopback
// (a few seconds, capped in count) with a busy client, a rate-limited route
// and a blocked address, loads /dashboard in Debian's chromium through
// playwright-core, and checks that the token is asked for, the numbers rise,
// the charts draw data, clients and blocks are listed; saves a screenshot.
//
// node dashboard.test.mjs <rampart binary> <output dir>
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [rampartBin, outDir] = process.argv.slice(2);
if (!rampartBin || !outDir) {
  console.error("usage: node dashboard.test.mjs <rampart binary> <output dir>");
  process.exit(2);
}
const TOKEN = "dashboard-test-token-0123456789";
const LOAD_MS = 6000;          // the load runs this long at most...
const LOAD_MAX_REQUESTS = 100000;  // ...and sends at most this many requests
const work = fs.mkdtempSync(path.join(os.tmpdir(), "rampart-dashboard-"));
const children = [];           // processes this test started, stopped by PID at the end
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(condition, message) {
  if (!condition) throw new Error("FAILED: " + message);
  console.log("ok - " + message);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

async function waitPort(port, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const open = await new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => { socket.destroy(); resolve(true); });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`port ${port} did not open`);
}

function startUpstream() {
  const script = path.join(here, "..", "integration", "upstream_server.py");
  const child = spawn("/usr/bin/python3", [script, "--port", "0", "--name", "app"],
                      { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (chunk) => {
      text += chunk;
      const match = /PORT (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.on("exit", () => reject(new Error("upstream exited")));
    setTimeout(() => reject(new Error("upstream did not report its port")), 10000);
  });
}

function request(port, target, { localAddress, agent, method = "GET", body, headers } = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path: target, method, agent, localAddress,
                               headers: { ...(headers || {}), ...(body ? { "content-length": body.length } : {}) } },
      (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); });
    req.on("error", () => resolve(0));
    req.setTimeout(5000, () => req.destroy());
    if (body) req.write(body);
    req.end();
  });
}

// Bounded in time and count: `loops` clients sending one request after another.
async function load(port, until) {
  let sent = 0;
  const statuses = {};
  const client = async (target, localAddress) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress });
    while (Date.now() < until && sent < LOAD_MAX_REQUESTS) {
      sent++;
      const status = await request(port, target(), { localAddress, agent });
      statuses[status] = (statuses[status] || 0) + 1;
    }
    agent.destroy();
  };
  let n = 0;
  await Promise.all([
    client(() => `/api/orders/${n++ % 50}`, "127.0.0.2"),   // the busy client
    client(() => `/api/orders/${n++ % 50}`, "127.0.0.2"),
    client(() => "/api/catalog", "127.0.0.3"),
    client(() => "/api/catalog?slow", "127.0.0.4"),
    client(() => "/search?q=x", "127.0.0.5"),               // over its rate limit: 429s
    client(() => "/billing/invoices", "127.0.0.6"),
  ]);
  return { sent, statuses };
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const upstreamPort = await startUpstream();
  const deadPort = await freePort();  // nobody listens: its endpoint fails its health checks
  const port = await freePort();
  const adminPort = await freePort();
  const config = `workers: 2
drain_timeout: 2s
listeners:
  - {name: main, address: "127.0.0.1:${port}"}
clusters:
  - {name: app, endpoints: ["127.0.0.1:${upstreamPort}"]}
  - {name: app-next, endpoints: ["127.0.0.1:${upstreamPort}"]}
  - name: billing
    endpoints: ["127.0.0.1:${upstreamPort}", "127.0.0.1:${deadPort}"]
    health_check: {path: /health, interval: 200ms, timeout: 100ms, unhealthy_threshold: 1}
virtual_hosts:
  - name: default
    domains: ["*"]
    routes:
      - name: search
        match: {prefix: /search}
        cluster: app
        public: true
        limits:
          - {name: search-per-ip, key: address, rate: 40/s, burst: 10}
      - {name: billing, match: {prefix: /billing}, cluster: billing, public: true}
      - name: catalog
        match: {prefix: /api/catalog}
        public: true
        clusters: [{cluster: app, weight: 100}, {cluster: app-next, weight: 0}]
        ramp: {cluster: app-next, steps: [10, 50, 100], hold: 1h}
      - {name: api, match: {prefix: /}, cluster: app, public: true}
admin:
  address: "127.0.0.1:${adminPort}"
  token: "${TOKEN}"
`;
  const configPath = path.join(work, "rampart.yaml");
  fs.writeFileSync(configPath, config);
  execFileSync(rampartBin, ["validate", "-c", configPath], { stdio: "inherit" });
  const rampart = spawn(rampartBin, ["serve", "-c", configPath],
                        { stdio: ["ignore", "ignore", fs.openSync(path.join(work, "rampart.stderr"), "w")] });
  children.push(rampart);
  await waitPort(port);
  await waitPort(adminPort);

  const admin = (method, target, body) => new Promise((resolve) => {
    const data = body ? Buffer.from(JSON.stringify(body)) : undefined;
    const req = http.request({ host: "127.0.0.1", port: adminPort, path: target, method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(data ? { "content-type": "application/json", "content-length": data.length } : {}) } },
      (res) => { let text = ""; res.on("data", (c) => (text += c)); res.on("end", () => resolve({ status: res.statusCode, text })); });
    req.on("error", () => resolve({ status: 0, text: "" }));
    if (data) req.write(data);
    req.end();
  });
  check((await admin("POST", "/clients/block", { address: "127.0.0.66", duration: "10m" })).status === 200,
        "POST /clients/block 127.0.0.66");

  // A fresh profile (--user-data-dir) in the test's own directory.
  const browser = await chromium.launchPersistentContext(path.join(work, "chromium-profile"), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(String(error)));
    page.on("console", (message) => { if (message.type() === "error" && !/401/.test(message.text())) problems.push(message.text()); });
    // Any request off the admin listener would be an external asset.
    const foreign = [];
    page.on("request", (req) => { if (!req.url().startsWith(`http://127.0.0.1:${adminPort}/`)) foreign.push(req.url()); });

    const until = Date.now() + LOAD_MS;
    const loadDone = load(port, until);
    // The blocked address is refused at accept, a few times.
    let refused = 0;
    for (let i = 0; i < 5; i++) if (await request(port, "/x", { localAddress: "127.0.0.66" }) === 0) refused++;
    check(refused === 5, "127.0.0.66 is refused at accept (5 of 5)");

    await page.goto(`http://127.0.0.1:${adminPort}/dashboard`);
    await page.waitForSelector("#login", { state: "visible", timeout: 5000 });
    check(true, "the page asks for the admin token");
    await page.fill("#token", TOKEN);
    await page.click("#login button");
    await page.waitForFunction(() => /^[0-9]/.test(document.getElementById("rps").textContent) &&
                               Number(document.getElementById("rps").textContent.replace(/[^0-9.]/g, "")) > 0,
                               null, { timeout: 8000 });
    const since = async () => Number((await page.textContent("#rps-sub")).replace(/[^0-9]/g, ""));
    const first = await since();
    await sleep(2500);
    const second = await since();
    check(second > first && first > 0, `requests since start rise (${first} -> ${second})`);
    check(await page.evaluate(() => sessionStorage.getItem("rampart-admin-token")) === TOKEN,
          "the token is kept in sessionStorage");

    const pathsWithData = async (id) => page.$$eval(`#${id} path.series`, (paths) =>
      paths.filter((p) => (p.getAttribute("d").match(/L/g) || []).length >= 3).length);
    // The history grows one sample a second: wait for four points (a slow
    // machine may not have them yet), then judge.
    await page.waitForFunction(() => [...document.querySelectorAll("#chart-rps path.series")]
      .some((p) => (p.getAttribute("d").match(/L/g) || []).length >= 3), null, { timeout: 10000 })
      .catch(() => {});
    check(await pathsWithData("chart-rps") >= 1, "the requests/s chart draws data");
    check(await pathsWithData("chart-latency") === 3, "the latency chart draws p50, p90 and p99");
    check(await pathsWithData("chart-refusals") >= 1, "the refusals chart draws data");
    await page.waitForFunction(() => document.getElementById("clients").textContent.includes("127.0.0.2"), null, { timeout: 5000 });
    check(true, "top clients list the busy address 127.0.0.2");
    const blocked = await page.textContent("#blocked");
    check(blocked.includes("127.0.0.66/32") && blocked.includes("blocked"), "blocked addresses list 127.0.0.66/32");
    check((await page.textContent("#refusals")).includes("Rate limit"), "refusals by cause show the rate limit");
    await page.waitForFunction(() => document.getElementById("clusters").textContent.includes("1/2"), null, { timeout: 5000 });
    check(true, "upstream health shows billing with 1 of 2 endpoints healthy");
    await page.waitForFunction(() => /catalog.*app-next 10%.*step 1\/3/.test(document.getElementById("splits").textContent),
                               null, { timeout: 5000 })
      .catch(() => {});
    const splits = await page.textContent("#splits");
    check(/catalog.*app-next 10%.*step 1\/3/.test(splits), `the rollout shows its weight and step (${splits})`);
    const state = await page.textContent("#state");
    check(["HEALTHY", "DEGRADED", "CRITICAL"].includes(state), `the state banner reads ${state}`);
    const shot = path.join(outDir, "dashboard.png");
    await page.screenshot({ path: shot, fullPage: true });
    check(fs.statSync(shot).size > 10000, `screenshot saved: ${shot}`);
    // The unblock button posts from the page (same origin, with the token).
    await page.click('button[data-unblock="127.0.0.66/32"]');
    await page.waitForFunction(() => !document.getElementById("blocked").textContent.includes("127.0.0.66/32"),
                               null, { timeout: 5000 });
    check(true, "the unblock button lifts the block");
    await sleep(200);
    check(await request(port, "/x", { localAddress: "127.0.0.66" }) === 200, "127.0.0.66 is served again");
    const { sent, statuses } = await loadDone;
    console.log(`load: ${sent} requests, statuses ${JSON.stringify(statuses)}`);
    check(statuses[429] > 0 && statuses[200] > 0, "the load got 200s and 429s");
    check(foreign.length === 0, `no request leaves the admin listener (${foreign.join(", ")})`);
    check(problems.length === 0, `no script errors (${problems.join("; ")})`);
  } finally {
    await browser.close();
  }
}

let code = 0;
try {
  await main();
} catch (error) {
  console.error(error.stack || String(error));
  const log = path.join(work, "rampart.stderr");
  if (fs.existsSync(log)) console.error("--- rampart stderr ---\n" + fs.readFileSync(log, "utf8").slice(-3000));
  code = 1;
} finally {
  for (const child of children.reverse()) {
    if (child.exitCode === null) child.kill("SIGTERM");
  }
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(code);
