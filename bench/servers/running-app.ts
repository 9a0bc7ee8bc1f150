import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A row's server once it listens: its port, and how to stop it with everything it opened. */
export interface RunningApp {
  port: number;
  close(): Promise<void>;
}

/** The port a server listening on port 0 got. */
export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
