// @ts-check
// Runs the browser tests in headless Chromium through chromedriver (plain W3C WebDriver over
// HTTP; no npm dependency): a static server on 127.0.0.1 serves bindings-wasm/ and
// tests/scenarios/ (with a generated index.json listing the scenario files), and
//   suite   — the scenario suite on a page (pkg/web): the cases of scenario.mjs and the shared
//             scenario files, as in node.test.mjs
//   opfs    — OPFS persistence in dedicated workers (write, close, reopen, read; then a fresh worker)
//   example — examples/index.html: a short chat typed and clicked by script, the rendered result
//             checked, and a screenshot saved (default target/wasm-example.png)
// Usage: node webdriver.mjs [suite] [opfs] [example]   (default: all three)
// Environment: CHROMEDRIVER (default chromedriver), CHROME_BIN (default /usr/bin/chromium),
//              SCREENSHOT (default <repo>/target/wasm-example.png).
// Prints one "ok"/"not ok" line per case and a closing "N passed, N failed" line.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, ".."); // bindings-wasm/
const repo = path.resolve(root, "..");
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

const MIME = /** @type {Record<string, string>} */ ({
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".png": "image/png",
});

const scenarios = path.join(repo, "tests", "scenarios");

/** A static file server on 127.0.0.1 for bindings-wasm/ and tests/scenarios/ (nothing else). */
async function serve() {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const file = path.resolve(repo, "." + decodeURIComponent(url.pathname));
    if (file === path.join(scenarios, "index.json")) {
      const list = readdirSync(scenarios).filter((f) => f.endsWith(".json")).sort();
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(list));
      return;
    }
    if (!file.startsWith(root + path.sep) && !file.startsWith(scenarios + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
      res.writeHead(200, {
        "content-type": MIME[path.extname(file)] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = /** @type {net.AddressInfo} */ (server.address());
  return { server, base: `http://127.0.0.1:${addr.port}` };
}

async function freePort() {
  const s = net.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = /** @type {net.AddressInfo} */ (s.address()).port;
  s.close();
  return port;
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

class WebDriver {
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    this.session = "";
  }
  /**
   * @param {string} method
   * @param {string} route
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async cmd(method, route, body) {
    const res = await fetch(`${this.url}${route}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = /** @type {any} */ (await res.json());
    if (!res.ok) throw new Error(`WebDriver ${method} ${route}: ${json?.value?.message ?? res.status}`);
    return json.value;
  }
  /** @param {string} method @param {string} route @param {unknown} [body] */
  s(method, route, body) {
    return this.cmd(method, `/session/${this.session}${route}`, body);
  }
  async start() {
    const chrome = process.env.CHROME_BIN ?? "/usr/bin/chromium";
    const value = await this.cmd("POST", "/session", {
      capabilities: {
        alwaysMatch: {
          browserName: "chrome",
          "goog:chromeOptions": {
            binary: chrome,
            args: [
              "--headless=new",
              "--no-sandbox",
              "--disable-gpu",
              "--disable-dev-shm-usage",
              "--disable-quic",
              "--no-first-run",
              "--disable-background-networking",
              "--disable-component-update",
              "--disable-sync",
              "--window-size=1280,860",
            ],
          },
        },
      },
    });
    this.session = value.sessionId;
  }
  /** @param {string} url */
  go(url) {
    return this.s("POST", "/url", { url });
  }
  /** @param {string} script @param {unknown[]} [args] */
  exec(script, args = []) {
    return this.s("POST", "/execute/sync", { script, args });
  }
  /** Waits until `script` returns a truthy value; returns it. @param {string} script @param {number} ms */
  async until(script, ms, what = script) {
    const end = Date.now() + ms;
    for (;;) {
      const v = await this.exec(script);
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await sleep(100);
    }
  }
  /** @param {string} css @returns {Promise<string>} */
  async find(css) {
    const v = await this.s("POST", "/element", { using: "css selector", value: css });
    return v[ELEMENT];
  }
  /** @param {string} css */
  async click(css) {
    await this.s("POST", `/element/${await this.find(css)}/click`, {});
  }
  /** @param {string} css @param {string} text */
  async type(css, text) {
    await this.s("POST", `/element/${await this.find(css)}/value`, { text });
  }
  async screenshot() {
    return Buffer.from(await this.s("GET", "/screenshot"), "base64");
  }
  async quit() {
    if (this.session) await this.s("DELETE", "").catch(() => {});
  }
}

/** @type {{ name: string, ok: boolean, error?: string }[]} */
const outcomes = [];

/** Loads a test page and collects its window.__report. @param {WebDriver} wd @param {string} url @param {string} label */
async function pageSuite(wd, url, label) {
  await wd.go(url);
  const report = await wd.until("return window.__report ?? null", 120_000, `${label} results`);
  for (const r of report.results) outcomes.push({ name: `${label}: ${r.name}`, ok: r.ok, error: r.error });
}

/** The example: operator and visitor panes chatting through the in-browser engine. @param {WebDriver} wd @param {string} base */
async function example(wd, base) {
  await wd.go(`${base}/bindings-wasm/examples/index.html`);
  await wd.until("return document.body.dataset.ready === 'yes'", 60_000, "the example to start");
  const text = (/** @type {string} */ css) => wd.exec(`return document.querySelector(${JSON.stringify(css)})?.innerText ?? ""`);

  await wd.type("#visitor-input", "Hi! My order #1234 has not arrived.");
  await wd.click("#visitor-send");
  await wd.until("return document.querySelector('#pending .join') !== null", 10_000, "the chat to be pending for the operator");
  await wd.click("#pending .join");
  await wd.until("return document.querySelector('#operator-input:not([disabled])') !== null", 10_000, "the operator to join");
  await wd.type("#operator-input", "Hello, I am Ann. Let me look into it.");
  await wd.click("#operator-send");
  await wd.click("#operator-offer");
  await wd.until("return document.querySelector('#visitor-messages button.action') !== null", 10_000, "the visitor to see the actions");
  await wd.click("#visitor-messages button.action");
  await wd.until(
    "return document.querySelector('#operator-messages')?.innerText.includes('Track my order')",
    10_000,
    "the operator to see the visitor's choice",
  );

  const visitorPane = await text("#visitor-messages");
  const operatorPane = await text("#operator-messages");
  const pending = await text("#pending");
  const errors = await text(".status.error");
  for (const [what, hay, needle] of [
    ["visitor sees own message", visitorPane, "Hi! My order #1234 has not arrived."],
    ["visitor sees the operator's reply", visitorPane, "Hello, I am Ann. Let me look into it."],
    ["visitor sees the operator's public name", visitorPane, "Ann from Support"],
    ["operator sees the visitor's message", operatorPane, "Hi! My order #1234 has not arrived."],
    ["operator sees the action response", operatorPane, "Track my order"],
    ["the pending list is empty after joining", pending, "No chats waiting"],
  ]) {
    outcomes.push(hay.includes(needle) ? { name: `example: ${what}`, ok: true } : { name: `example: ${what}`, ok: false, error: `"${needle}" not in:\n${hay}` });
  }
  const disabled = await wd.exec("return document.querySelector('#visitor-messages button.action')?.disabled === true");
  outcomes.push(disabled ? { name: "example: the chosen action is disabled", ok: true } : { name: "example: the chosen action is disabled", ok: false, error: "still enabled" });
  outcomes.push(errors === "" ? { name: "example: no error shown", ok: true } : { name: "example: no error shown", ok: false, error: errors });

  const file = process.env.SCREENSHOT ?? path.join(repo, "target", "wasm-example.png");
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, await wd.screenshot());
  console.log(`# screenshot: ${path.relative(process.cwd(), file) || file}`);
}

async function main() {
  const wanted = process.argv.slice(2);
  const run = (/** @type {string} */ n) => wanted.length === 0 || wanted.includes(n);
  const { server, base } = await serve();
  const port = await freePort();
  const driver = spawn(process.env.CHROMEDRIVER ?? "chromedriver", [`--port=${port}`], { stdio: "ignore" });
  const wd = new WebDriver(`http://127.0.0.1:${port}`);
  try {
    await (async () => {
      for (let i = 0; ; i++) {
        try {
          const status = await wd.cmd("GET", "/status");
          if (status.ready) return;
        } catch {
          /* not up yet */
        }
        if (i > 100) throw new Error("chromedriver did not start");
        await sleep(100);
      }
    })();
    await wd.start();
    if (run("suite")) await pageSuite(wd, `${base}/bindings-wasm/js-tests/browser/suite.html`, "chromium");
    if (run("opfs")) await pageSuite(wd, `${base}/bindings-wasm/js-tests/browser/opfs.html`, "chromium worker");
    if (run("example")) await example(wd, base);
  } catch (e) {
    outcomes.push({ name: "browser run", ok: false, error: String(/** @type {Error} */ (e)?.stack ?? e) });
  } finally {
    await wd.quit();
    driver.kill();
    server.close();
  }
  for (const o of outcomes) {
    console.log(`${o.ok ? "ok" : "not ok"} - ${o.name}`);
    if (o.error) console.log(o.error.replace(/^/gm, "#   "));
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  console.log(`${outcomes.length - failed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && outcomes.length > 0 ? 0 : 1;
}

await main();
