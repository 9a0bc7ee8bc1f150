/**
 * The delay relay as a process of its own, started by `NetFaults.interpose` inside a host:
 * `node delay-relay-main.js <listen address> <target address> <target port>`. It prints
 * `{"port":N}` once it listens, then reads one JSON line per change on stdin
 * (`{"delayMs":50,"jitterMs":10}`) and answers each with `ok`. It exits when stdin ends, so it
 * dies with the process that started it (and with its namespace, which kills what runs inside).
 */
import { createInterface } from 'node:readline';
import { DelayRelay } from './delay-relay.js';

const [host, targetHost, targetPort] = process.argv.slice(2);
if (!host || !targetHost || !Number.isSafeInteger(Number(targetPort))) {
  process.stderr.write('usage: delay-relay-main <listen address> <target address> <target port>\n');
  process.exit(2);
}
const relay = await DelayRelay.listen({ host, targetHost, targetPort: Number(targetPort) });
process.stdout.write(`${JSON.stringify({ port: relay.port })}\n`);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const d = JSON.parse(line) as { delayMs?: unknown; jitterMs?: unknown };
  relay.set({ delayMs: Number(d.delayMs) || 0, jitterMs: Number(d.jitterMs) || 0 });
  process.stdout.write('ok\n');
});
lines.on('close', () => process.exit(0));
