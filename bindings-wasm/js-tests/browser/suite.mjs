// @ts-check
// The scenario suite on a page's main thread, against the web package (pkg/web): the cases of
// scenario.mjs and the shared scenario files of tests/scenarios/, as in node.test.mjs.
import init, * as mod from "../../pkg/web/chat_engine.js";
import { scenario } from "../scenario.mjs";
import { sharedCases } from "../shared.mjs";
import { abort, finish, runCase } from "./report.mjs";

try {
  await init();
  const dir = new URL("../../../tests/scenarios/", import.meta.url);
  /** @type {string[]} */
  const names = await (await fetch(new URL("index.json", dir))).json();
  if (names.length === 0) throw new Error("no tests/scenarios/*.json");
  const files = await Promise.all(
    names.map(async (file) => ({ file, scenario: await (await fetch(new URL(file, dir))).json() })),
  );
  for (const c of [...scenario(mod), ...sharedCases(mod, files)]) {
    await runCase(c.name, c.run);
  }
  finish();
} catch (e) {
  abort(e);
}
