import type { RunProgress } from './run-config.js';

/** Where progress goes and whether it can be redrawn in place. */
export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
}

/** Plain lines at most this often when the output is not a terminal. */
const PLAIN_EVERY = 5000;

/**
 * The live display of a lab run. On a terminal: one line (config, phase, elapsed, req/s over the
 * last second, errors, lost sessions) redrawn in place. Otherwise: a plain line when a config
 * starts, every 5 s of load, and when its load ends.
 *
 * @example
 * ```ts
 * const p = new Progress({ write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY }, 5);
 * runConfig({ …, onProgress: (x) => p.update(x) });
 * p.done();
 * ```
 */
export class Progress {
  private index = 0;
  private current = '';
  private last = { at: 0, requests: 0 };
  private rate = 0;
  private lastPlain = -Infinity;
  private lastPhase = '';
  private drawn = false;

  constructor(
    private readonly sink: ProgressSink,
    private readonly total: number,
  ) {}

  update(p: RunProgress): void {
    if (p.config !== this.current) {
      this.current = p.config;
      this.index++;
      this.last = { at: 0, requests: 0 };
      this.rate = 0;
      this.lastPlain = -Infinity;
      this.lastPhase = '';
    }
    if (p.elapsedMs - this.last.at >= 1000) {
      this.rate = ((p.requests - this.last.requests) / (p.elapsedMs - this.last.at)) * 1000;
      this.last = { at: p.elapsedMs, requests: p.requests };
    }
    const line =
      `[${this.index}/${this.total}] ${p.config.padEnd(22)} ${p.phase.padEnd(8)} ` +
      `${(p.elapsedMs / 1000).toFixed(1).padStart(5)}/${(p.durationMs / 1000).toFixed(0)} s  ` +
      `${this.rate.toFixed(0).padStart(5)} req/s  errors ${p.errors}  sessions lost ${p.sessionsLost}`;
    if (this.sink.isTTY) {
      this.sink.write(`\r\x1b[2K${line}`);
      this.drawn = true;
      return;
    }
    const phaseChanged = p.phase !== this.lastPhase;
    if (phaseChanged || (p.phase === 'load' && p.elapsedMs - this.lastPlain >= PLAIN_EVERY)) {
      this.sink.write(`${line}\n`);
      this.lastPlain = p.elapsedMs;
      this.lastPhase = p.phase;
    }
  }

  /** A line of its own (a skipped config, a note), without breaking the live line. */
  note(text: string): void {
    if (this.drawn) this.sink.write('\r\x1b[2K');
    this.drawn = false;
    this.sink.write(`${text}\n`);
  }

  /** Ends the live line. */
  done(): void {
    if (this.drawn) this.sink.write('\r\x1b[2K');
    this.drawn = false;
  }
}
