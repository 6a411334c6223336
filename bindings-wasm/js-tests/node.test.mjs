// @ts-check
// The scenario suite in Node, against the nodejs package (pkg/node, built by
// scripts/build-pkg.sh): the JS cases of scenario.mjs and every shared scenario file of
// tests/scenarios/. Run: node --test bindings-wasm/js-tests/node.test.mjs
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import { scenario } from "./scenario.mjs";
import { sharedCases } from "./shared.mjs";

const require = createRequire(import.meta.url);
/** @type {import("../pkg/node/chat_engine.js")} */
const mod = require("../pkg/node/chat_engine.js");

const dir = new URL("../../tests/scenarios/", import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((file) => ({ file, scenario: JSON.parse(readFileSync(new URL(file, dir), "utf8")) }));

test("the shared scenario directory has files", () => {
  if (files.length === 0) throw new Error("no tests/scenarios/*.json");
});
for (const c of [...scenario(mod), ...sharedCases(mod, files)]) {
  test(c.name, () => c.run());
}
