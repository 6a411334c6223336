// @ts-check
// Runs the shared, data-driven scenario files of tests/scenarios/ (see its README) through the
// JS Engine: the same files the Rust api, the HTTP server and the C ABI run. One case per file.

import { deepEq, eq } from "./lib/check.mjs";

/** @typedef {import("../pkg/node/chat_engine.js")} ChatEngineModule */
/**
 * @typedef {{ name: string, token: string | null, op: string, args: Record<string, unknown>,
 *   status: number, expect?: Record<string, unknown>, save?: Record<string, string> }} Step
 * @typedef {{ description?: string, seed: import("../pkg/node/chat_engine.js").Seed,
 *   constants?: Record<string, unknown>, steps: Step[] }} ScenarioFile
 */

/** 2025-01-01T00:00:00Z, the start of core's TestClock::at_default_start(). */
const DEFAULT_START_MS = 1735689600000;

/** @param {unknown} v @param {Map<string, unknown>} vars @returns {any} */
function substitute(v, vars) {
  if (typeof v === "string" && v.startsWith("$")) {
    if (!vars.has(v.slice(1))) throw new Error(`unknown variable ${v}`);
    return vars.get(v.slice(1));
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, vars));
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, vars)]));
  }
  return v;
}

/** RFC 6901 JSON pointer; `undefined` when absent. @param {unknown} doc @param {string} pointer */
function at(doc, pointer) {
  if (pointer === "") return doc;
  /** @type {any} */
  let cur = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur === null || typeof cur !== "object" || !(key in cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/**
 * Runs one scenario file; returns how many steps ran.
 * @param {ChatEngineModule} mod
 * @param {ScenarioFile} scenario
 */
export function runScenario(mod, scenario) {
  const engine = mod.Engine.openInMemory({ testClockMs: DEFAULT_START_MS });
  try {
    engine.loadSeed(scenario.seed);
    const vars = new Map(Object.entries(scenario.constants ?? {}));
    for (const step of scenario.steps) {
      const token = substitute(step.token, vars);
      const args = substitute(step.args, vars);
      /** @type {{ status: number, body: unknown }} */
      let reply;
      try {
        reply =
          token === "@admin"
            ? engine.replyAs({ type: "admin" }, step.op, args)
            : engine.reply(step.op, args, token);
      } catch (e) {
        if (!mod.isChatError(e)) throw e;
        reply = { status: e.status, body: e.body };
      }
      const where = `step '${step.name}' (${step.op})`;
      eq(reply.status, step.status, `${where}: status, body ${JSON.stringify(reply.body)}`);
      for (const [pointer, want] of Object.entries(step.expect ?? {})) {
        deepEq(at(reply.body, pointer), substitute(want, vars), `${where}: ${pointer}`);
      }
      for (const [name, pointer] of Object.entries(step.save ?? {})) {
        const v = at(reply.body, pointer);
        if (v === undefined) throw new Error(`${where}: nothing at ${pointer} to save`);
        vars.set(name, v);
      }
    }
    return scenario.steps.length;
  } finally {
    engine.close();
  }
}

/**
 * One case per scenario file.
 * @param {ChatEngineModule} mod
 * @param {{ file: string, scenario: ScenarioFile }[]} files
 * @returns {{ name: string, run: () => void }[]}
 */
export function sharedCases(mod, files) {
  return files.map(({ file, scenario }) => ({
    name: `shared scenario ${file} (${scenario.steps.length} steps)`,
    run() {
      runScenario(mod, scenario);
    },
  }));
}
