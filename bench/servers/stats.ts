import type { ServerStats } from './rows.js';

/** Counts what a server answered, so the bench can tell whether connections kept their sessions. */
export class Stats {
  private readonly s: Omit<ServerStats, 'cpuMicros' | 'clockMicros'> = {
    hits: 0,
    reads: 0,
    created: 0,
    readMisses: 0,
  };

  /** Records a `/hit` answer and returns it (handlers end with `return stats.hit(n)`-style calls). */
  hit(n: number): number {
    this.s.hits++;
    if (n === 1) this.s.created++;
    return n;
  }

  read(n: number | undefined): number | undefined {
    this.s.reads++;
    if (typeof n !== 'number') this.s.readMisses++;
    return n;
  }

  snapshot(): ServerStats {
    const cpu = process.cpuUsage();
    return {
      ...this.s,
      cpuMicros: cpu.user + cpu.system,
      clockMicros: Number(process.hrtime.bigint() / 1000n),
    };
  }
}
