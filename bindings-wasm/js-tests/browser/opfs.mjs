// @ts-check
// OPFS persistence: a first dedicated worker writes, closes, reopens and reads; a second,
// fresh worker (a new WebAssembly instance) reopens the same database and reads it again.
import { abort, finish, runCase } from "./report.mjs";

/**
 * Runs one step in a new module worker and returns its answer.
 * @param {Record<string, unknown>} message
 * @returns {Promise<any>}
 */
function inWorker(message) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./opfs-worker.mjs", import.meta.url), { type: "module" });
    worker.onmessage = (e) => {
      worker.terminate();
      if (e.data.ok) resolve(e.data);
      else reject(new Error(`worker step ${String(message.step)}: ${e.data.error}`));
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(`worker error: ${e.message}`));
    };
    worker.postMessage(message);
  });
}

try {
  const name = `persist-${Date.now()}.db`;
  /** @type {any} */
  let written = null;
  await runCase("OPFS: write, close, reopen and read in one dedicated worker", async () => {
    written = await inWorker({ step: "write", name });
  });
  await runCase("OPFS: a fresh worker reopens the database and reads what was written", async () => {
    if (!written) throw new Error("nothing was written");
    await inWorker({ step: "read", name, chat_id: written.chat_id, texts: written.texts });
  });
  finish();
} catch (e) {
  abort(e);
}
