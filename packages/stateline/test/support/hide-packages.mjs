// Loaded with --import: makes the packages named in HIDE_PACKAGES (comma-separated) unresolvable
// in this process, as in a project that never installed them, and counts every attempt to load
// one in globalThis.__hiddenAttempts.
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const hidden = (process.env.HIDE_PACKAGES ?? '').split(',').filter(Boolean);
const { port1, port2 } = new MessageChannel();
globalThis.__hiddenAttempts = 0;
port1.on('message', () => globalThis.__hiddenAttempts++);
port1.unref();
const hooks = `
let port, hidden;
export function initialize(data) { port = data.port; hidden = data.hidden; }
export async function resolve(specifier, context, next) {
  if (hidden.some((name) => specifier === name || specifier.startsWith(name + '/'))) {
    port.postMessage(specifier);
    const err = new Error("Cannot find package '" + specifier + "'");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, {
  data: { port: port2, hidden },
  transferList: [port2],
});
