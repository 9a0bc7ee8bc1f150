import { randomBytes } from 'node:crypto';
import { createGateway, type Gateway } from '@stateline/gateway';
import { GATEWAY_PROOF_HEADER, INSTANCE_ENV } from 'stateline/instance';
import { redactSpec } from 'stateline/store';
import { checkCombination, CLUSTER_DEFAULTS, type ClusterOptions } from './cluster-options.js';
import { ClusterHistory } from './cluster-history.js';
import type { ClusterEvent } from './cluster-status.js';
import { clusterStatus, createControl, type ClusterStatus, type ControlOptions } from './control.js';
import { gatewayFront } from './gateway-front.js';
import { startHaproxy, type ExternalProxy } from './haproxy.js';
import { startNginx } from './nginx.js';
import { createGatewayMetrics } from './gateway-metrics.js';
import { resolveApp } from './run/app-module.js';
import { Supervisor, type InstanceRegistry } from './supervisor.js';

/** A running local cluster: gateway in front, supervised instances behind. */
export interface Cluster {
  /** Where clients go, e.g. `http://127.0.0.1:8080`: HAProxy's or nginx's port under `proxy`. */
  readonly url: string;
  readonly port: number;
  /** The built-in gateway, which serves the control API under `/_stateline/` (`url` without a proxy). */
  readonly controlUrl: string;
  /** HAProxy or nginx in front of the instances, when `proxy` names one. */
  readonly external: ExternalProxy | undefined;
  readonly supervisor: Supervisor;
  readonly gateway: Gateway;
  status(): ClusterStatus;
  /** The last 60 s of counts and process events (what the dashboard shows when opened late). */
  readonly history: ClusterHistory;
  /** Drains and stops every instance, then closes the gateway; the same promise on every call. */
  close(): Promise<void>;
}

const READY_TIMEOUT = 20_000;

/** The host as a URL authority; wildcard addresses are shown as the loopback address that reaches them. */
function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

async function allRouted(gw: Gateway, n: number): Promise<void> {
  const until = Date.now() + READY_TIMEOUT;
  for (;;) {
    const list = gw.instances();
    if (list.length === n && list.every((i) => i.state === 'up')) return;
    if (Date.now() > until) {
      const states = list.map((i) => `${i.id} ${i.state}`).join(', ');
      throw new Error(`instances did not pass their health checks within ${READY_TIMEOUT} ms (${states})`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Starts what `stateline up` runs: the gateway (with the control API under `/_stateline/`) and N
 * supervised instances of the app, each registered with the gateway once it listens. Resolves
 * when every instance passed its health check; on failure everything started is stopped again.
 *
 * @example
 * ```ts
 * const cluster = await startCluster({ port: 0, instances: 3, store: 'sqlite:/tmp/lab.db' });
 * console.log(cluster.url, cluster.status().instances.map((i) => i.state));
 * await cluster.close();
 * ```
 */
export async function startCluster(
  options: Partial<ClusterOptions> & {
    /** Called with each instance process event (killed, exited, restarted). */
    onEvent?: (e: ClusterEvent) => void;
    /**
     * How many of the `instances` (`i1…`) start now (default all); the others stay down until
     * started through the supervisor (the lab adds them for a larger `--scale` step).
     */
    start?: number;
  } = {},
): Promise<Cluster> {
  const { onEvent, start, ...rest } = options;
  const o: ClusterOptions = { ...CLUSTER_DEFAULTS, ...rest };
  checkCombination(o);
  const keys =
    o.sessionKeys ??
    (process.env[INSTANCE_ENV.sessionKeys]?.split(',').filter(Boolean) || [
      randomBytes(32).toString('base64url'),
    ]);
  const tokenKeys =
    o.tokenKeys ??
    (process.env[INSTANCE_ENV.tokenKeys]?.split(',').filter(Boolean) || [
      randomBytes(32).toString('base64url'),
    ]);
  // Instances believe X-Forwarded-For only on requests that carry this (a client on the same host
  // sending straight to an instance port cannot forge its address).
  const gatewaySecret = randomBytes(24).toString('base64url');

  // The gateway is made after the supervisor (its control hook needs it); reach it lazily.
  const registry: InstanceRegistry = {
    add: (instance) => {
      gateway.add(instance);
      const { hostname, port } = new URL(instance.url);
      external(async (p) => {
        await p.setAddress(instance.id, hostname, Number(port));
        await p.setState(instance.id, 'ready');
      });
    },
    drain: async (id) => {
      external((p) => p.setState(id, 'maint'));
      await gateway.drain(id);
      await pending;
    },
    remove: (id) => {
      gateway.remove(id);
      external((p) => p.setState(id, 'maint'));
    },
    markDown: (id) => {
      gateway.markDown(id);
      external((p) => p.setState(id, 'maint'));
      // Resolves once HAProxy or nginx has taken it out (a kill waits for that; `pending` never rejects).
      return pending;
    },
  };
  // The external proxy learns of each change in order (HAProxy's runtime API, nginx reloads); one
  // that fails is reported on stderr (HAProxy's own health checks still take a dead instance out).
  let haproxy: ExternalProxy | undefined;
  let pending: Promise<void> = Promise.resolve();
  const external = (step: (p: ExternalProxy) => Promise<void>) => {
    const p = haproxy;
    if (!p) return;
    pending = pending
      .then(() => step(p))
      .catch((err: Error) => void process.stderr.write(`stateline: ${err.message}\n`));
  };
  const sup = new Supervisor({
    app: o.app ?? resolveApp(),
    instances: o.instances,
    registry,
    relay: o.bus.startsWith('ipc:'),
    handleSignals: false,
    stdio: o.stdio ?? 'inherit',
    ...(o.placement
      ? { wrap: (id: string) => o.placement!.wrap(id), hostOf: (id: string) => o.placement!.hostOf(id) }
      : {}),
    env: {
      ...o.env,
      [INSTANCE_ENV.strategy]: o.strategy,
      [INSTANCE_ENV.store]: o.store,
      [INSTANCE_ENV.bus]: o.bus,
      [INSTANCE_ENV.replication]: o.replication,
      STATELINE_BALANCE: o.balance,
      [INSTANCE_ENV.sessionKeys]: keys.join(','),
      [INSTANCE_ENV.tokenKeys]: tokenKeys.join(','),
      [INSTANCE_ENV.gatewaySecret]: gatewaySecret,
    },
  });
  const control: ControlOptions = {
    supervisor: sup,
    gatewayInstances: () => gateway.instances(),
    counts: (id) => gateway.counts(id),
    balance: o.balance,
    strategy: o.strategy,
    store: redactSpec(o.store),
    adminToken: o.adminToken,
  };
  const history = new ClusterHistory(
    sup,
    () => clusterStatus(control).instances,
    (e) => onEvent?.(e),
  );
  control.history = history;
  const metrics = createGatewayMetrics(() =>
    sup.instances().flatMap(({ id }) => {
      const c = gateway.counts(id);
      return c ? [{ id, retries: c.retries }] : [];
    }),
  );
  const gateway = createGateway({
    balance: o.balance,
    // Liveness: a draining instance gets no traffic; one that lost its Store still serves what
    // needs no Store, and answers the rest 503 + Retry-After itself (/readyz reports the Store).
    health: { path: '/healthz', interval: 500, timeout: 1000, rise: 1, fall: 2 },
    maxBodyBytes: o.maxBodyBytes,
    proof: { header: GATEWAY_PROOF_HEADER, value: gatewaySecret },
    metrics: true,
    onStateChange: (change) => metrics.onStateChange(change),
    // Counts what was proxied; the lab's own routes below are answered before it and not counted.
    onResponse: (event) => metrics.observe(event),
  });
  // GET /metrics and /_stateline (→ the dashboard), then the control API under /_stateline/.
  gateway.use(gatewayFront({ metrics, adminToken: o.adminToken })).use(createControl(control));
  const proxied = o.proxy === 'haproxy' || o.proxy === 'nginx';
  let port: number;
  try {
    // Behind HAProxy or nginx the gateway keeps only the control API, on a free loopback port.
    ({ port } = await gateway.listen(proxied ? 0 : o.port, proxied ? '127.0.0.1' : o.host));
  } catch (err) {
    history.close();
    await sup.close();
    await gateway.close().catch(() => {});
    throw err;
  }
  try {
    const first = Math.min(start ?? o.instances, o.instances);
    await sup.start(first);
    await allRouted(gateway, first);
    if (proxied) {
      haproxy = await (o.proxy === 'nginx' ? startNginx : startHaproxy)({
        balance: o.balance,
        instances: gateway.instances().map((i) => {
          const { hostname, port: p } = new URL(i.url);
          return { id: i.id, host: hostname, port: Number(p) };
        }),
        port: o.port,
        host: o.host,
        maxBodyBytes: o.maxBodyBytes,
        proof: { header: GATEWAY_PROOF_HEADER, value: gatewaySecret },
      });
    }
  } catch (err) {
    history.close();
    await sup.close().catch(() => {});
    await gateway.close().catch(() => {});
    throw err;
  }
  const controlUrl = `http://127.0.0.1:${port}`;

  let closing: Promise<void> | undefined;
  const front = haproxy;
  return {
    url: front ? front.url : `http://${displayHost(o.host)}:${port}`,
    port: front ? front.port : port,
    controlUrl: front ? controlUrl : `http://${displayHost(o.host)}:${port}`,
    external: front,
    supervisor: sup,
    gateway,
    status: () => clusterStatus(control),
    history,
    close: () =>
      (closing ??= (async () => {
        history.close();
        await sup.close();
        await pending;
        await front?.close();
        await gateway.close();
      })()),
  };
}
