// @ts-check
// The scenario suite on a page's main thread, against the web package (pkg/web).
import init, * as mod from "../../pkg/web/chat_engine.js";
import { scenario } from "../scenario.mjs";
import { abort, finish, runCase } from "./report.mjs";

try {
  await init();
  for (const c of scenario(mod)) {
    await runCase(c.name, c.run);
  }
  finish();
} catch (e) {
  abort(e);
}
