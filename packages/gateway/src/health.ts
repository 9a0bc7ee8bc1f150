import { Client } from 'undici';
import type { Instance } from './instance.js';

export interface HealthSettings {
  path: string;
  interval: number;
  timeout: number;
}

/**
 * Active health checks for one instance: `GET path` right away, then every `interval` ms, on a
 * connection of its own so checks never queue behind proxied traffic. Each result goes to `report`.
 */
export class HealthChecker {
  private readonly client: Client;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly instance: Instance,
    private readonly settings: HealthSettings,
    private readonly report: (instance: Instance, ok: boolean) => void,
  ) {
    this.client = new Client(instance.origin, {
      pipelining: 1,
      connect: { timeout: settings.timeout },
      headersTimeout: settings.timeout,
      bodyTimeout: settings.timeout,
      keepAliveTimeout: Math.max(settings.interval * 2, 4000),
    });
  }

  start(): void {
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    void this.client.destroy().catch(() => {});
  }

  private async tick(): Promise<void> {
    const ok = await this.check();
    if (this.stopped) return;
    this.report(this.instance, ok);
    this.timer = setTimeout(() => void this.tick(), this.settings.interval);
    this.timer.unref();
  }

  private async check(): Promise<boolean> {
    try {
      const res = await this.client.request({
        path: this.settings.path,
        method: 'GET',
        headers: { 'user-agent': 'stateline-gateway-health' },
        signal: AbortSignal.timeout(this.settings.timeout),
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 400;
    } catch {
      return false;
    }
  }
}
