// @ts-check
// Minimal assertions shared by the Node and the browser runs, so that the scenario is the very
// same code in both.

/** A stable JSON text (sorted keys) for deep comparisons. */
function canonical(/** @type {unknown} */ v) {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
}

export class CheckFailed extends Error {
  constructor(/** @type {string} */ message) {
    super(message);
    this.name = "CheckFailed";
  }
}

/** @param {unknown} cond @param {string} what @returns {asserts cond} */
export function ok(cond, what) {
  if (!cond) throw new CheckFailed(`expected: ${what}`);
}

/** @template T @param {T} actual @param {T} expected @param {string} [what] */
export function eq(actual, expected, what = "value") {
  if (!Object.is(actual, expected)) {
    throw new CheckFailed(`${what}: expected ${canonical(expected)}, got ${canonical(actual)}`);
  }
}

/** @param {unknown} actual @param {unknown} expected @param {string} [what] */
export function deepEq(actual, expected, what = "value") {
  const a = canonical(actual);
  const e = canonical(expected);
  if (a !== e) throw new CheckFailed(`${what}: expected ${e}, got ${a}`);
}

/**
 * Runs `fn`, which must throw a ChatError with this code and status; returns the error.
 * @param {() => unknown} fn
 * @param {string} code
 * @param {number} status
 * @returns {import("../../pkg/node/chat_engine.js").ChatError}
 */
export function throwsChatError(fn, code, status) {
  let thrown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  return checkChatError(thrown, code, status);
}

/**
 * @param {() => Promise<unknown>} fn
 * @param {string} code
 * @param {number} status
 */
export async function rejectsChatError(fn, code, status) {
  let thrown;
  try {
    await fn();
  } catch (e) {
    thrown = e;
  }
  return checkChatError(thrown, code, status);
}

/**
 * @param {unknown} e
 * @param {string} code
 * @param {number} status
 * @returns {import("../../pkg/node/chat_engine.js").ChatError}
 */
function checkChatError(e, code, status) {
  ok(e !== undefined, `a ChatError ${code} to be thrown`);
  ok(e instanceof Error, `the thrown value to be an Error (got ${String(e)})`);
  const err = /** @type {import("../../pkg/node/chat_engine.js").ChatError} */ (e);
  eq(err.name, "ChatError", "error name");
  eq(err.code, code, `error code (${err.message})`);
  eq(err.status, status, "error status");
  eq(err.message, err.detail, "message is the detail");
  ok(typeof err.codeNumber === "number", "codeNumber is a number");
  ok(err.errors && typeof err.errors === "object", "errors is an object");
  eq(err.body.code, err.code, "body.code");
  eq(err.body.detail, err.detail, "body.detail");
  return err;
}
