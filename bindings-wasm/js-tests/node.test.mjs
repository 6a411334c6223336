// @ts-check
// The scenario suite in Node, against the nodejs package (pkg/node, built by
// scripts/build-pkg.sh). Run: node --test bindings-wasm/js-tests/
import { test } from "node:test";
import { createRequire } from "node:module";
import { scenario } from "./scenario.mjs";

const require = createRequire(import.meta.url);
/** @type {import("../pkg/node/chat_engine.js")} */
const mod = require("../pkg/node/chat_engine.js");

for (const c of scenario(mod)) {
  test(c.name, () => c.run());
}
