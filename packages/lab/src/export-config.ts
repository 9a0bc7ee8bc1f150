import { exportHaproxy, exportNginx } from '@stateline/gateway';
import { OptionError, type BalancePolicy } from './cluster-options.js';

export type ExportTarget = 'haproxy' | 'nginx';

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/**
 * `--instances` of `stateline export`: a comma-separated list of `host:port` (IPv6 in brackets).
 *
 * @example
 * ```ts
 * parseTargets('10.0.0.1:3000,10.0.0.2:3000'); // ['10.0.0.1:3000', '10.0.0.2:3000']
 * ```
 */
export function parseTargets(raw: string): string[] {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new OptionError('--instances needs at least one host:port');
  for (const t of list) {
    const m = HOST_PORT.exec(t);
    const port = m ? Number(m[1]) : 0;
    if (!m || port < 1 || port > 65535) throw new OptionError(`--instances: "${t}" is not host:port`);
  }
  if (new Set(list).size !== list.length) throw new OptionError('--instances lists the same host:port twice');
  return list;
}

/**
 * The production proxy configuration equivalent to the built-in gateway, from `@stateline/gateway`.
 *
 * @example
 * ```ts
 * process.stdout.write(exportConfig('haproxy', { balance: 'sticky', instances: ['10.0.0.1:3000'], port: 80 }));
 * ```
 */
export function exportConfig(
  target: ExportTarget,
  o: { balance: BalancePolicy; instances: string[]; port: number; maxBodyBytes?: number },
): string {
  const text = (target === 'haproxy' ? exportHaproxy : exportNginx)({
    balance: o.balance,
    instances: o.instances,
    port: o.port,
    maxBodyBytes: o.maxBodyBytes,
    // As `stateline up` checks its instances: liveness, which a draining instance fails.
    health: { path: '/healthz' },
  });
  return text.endsWith('\n') ? text : `${text}\n`;
}
