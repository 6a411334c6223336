// @ts-check
// Collects case results on a page and exposes them to the WebDriver runner as window.__report.

/** @typedef {{ name: string, ok: boolean, error?: string }} Result */

/** @type {Result[]} */
const results = [];

/** @param {string} name @param {() => unknown} fn */
export async function runCase(name, fn) {
  try {
    await fn();
    results.push({ name, ok: true });
  } catch (e) {
    const err = /** @type {Error} */ (e);
    results.push({ name, ok: false, error: `${err?.name}: ${err?.message}\n${err?.stack ?? ""}` });
  }
  const log = document.getElementById("log");
  if (log) {
    const last = results[results.length - 1];
    log.textContent += `${last.ok ? "ok" : "not ok"} - ${name}${last.error ? `\n  ${last.error}` : ""}\n`;
  }
}

/** Publishes the results (the runner polls for them). */
export function finish() {
  /** @type {any} */ (window).__report = { results };
}

/** Reports a failure that prevented the cases from running at all. */
export function abort(/** @type {unknown} */ e) {
  const err = /** @type {Error} */ (e);
  results.push({ name: "page setup", ok: false, error: `${err?.name}: ${err?.message}` });
  finish();
}
