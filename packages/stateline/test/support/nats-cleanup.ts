import { after } from 'node:test';
import { NATS_URL } from './services.js';

/** What `uniquePrefix` gives this test process, at the start of a stream's subjects. */
const MINE = new RegExp(`^sltest:[^:]*:${process.pid}:`);

/**
 * After the file, deletes every JetStream stream whose subjects start with a prefix this test
 * process made (`uniquePrefix`), so the shared NATS server keeps nothing of the run.
 */
export function cleanUpNatsAfter(skip: string | false): void {
  after(async () => {
    if (skip) return;
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') });
    try {
      const jsm = await jetstreamManager(nc);
      const doomed: string[] = [];
      for await (const info of jsm.streams.list())
        if (info.config.subjects?.some((s) => MINE.test(s))) doomed.push(info.config.name);
      for (const name of doomed) await jsm.streams.delete(name);
    } finally {
      await nc.close();
    }
  });
}

/** The names of the streams holding `${prefix}…` subjects (for tests that look inside). */
export async function natsStreamsUnder(prefix: string): Promise<string[]> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const info of jsm.streams.list())
      if (info.config.subjects?.some((s) => s.startsWith(prefix))) names.push(info.config.name);
    return names;
  } finally {
    await nc.close();
  }
}
