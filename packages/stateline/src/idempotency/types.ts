import type { Logger } from '../logger.js';
import type { Store, StoreSpec } from '../store/types.js';

/**
 * Options of the Idempotency-Key middleware. `Req` is the framework's request object (Express
 * `Request`, Fastify `FastifyRequest`, Hono `Context`, node:http `IncomingMessage`); the callbacks
 * receive it as is.
 */
export interface IdempotencyOptions<Req = unknown> {
  /** A Store, or a spec to open one on first use (default `'sqlite:.stateline/state.db'`). */
  store?: Store | StoreSpec;
  /** Methods that honour the header (default `['POST', 'PATCH']`); others pass untouched. */
  methods?: readonly string[];
  /** Refuse a request without a key (400), for every route or per request (default `false`). */
  required?: boolean | ((req: Req) => boolean);
  /** How long a completed outcome is replayed: ms or a duration such as `'24h'` (default 24 h). */
  ttl?: number | string;
  /** How long a reservation outlives a handler that never finished (process death), default 60 s. */
  lockTimeout?: number | string;
  /** Whose key this is (default: `u:<userId>`, else `s:<session handle>`, else `a:<client address>`). */
  scope?: (req: Req) => string | Promise<string>;
  /** What makes two requests "the same" (default: method + path with query + SHA-256 of the body). */
  fingerprint?: (req: Req) => string | Promise<string>;
  /** Response headers a replay carries (default content-type, content-language, location, etag, last-modified). */
  replayHeaders?: readonly string[];
  /** Largest response body kept for replay (default 1 MiB); larger ones are sent but not kept. */
  maxBodyBytes?: number;
  /** Called when an outcome cannot be saved or a handler fails with a 5xx (default: `logger.error`); never for a 4xx answer. */
  onError?: (err: unknown) => void;
  /** Where failures go when there is no `onError` (default: `console.error`); also given to a Store opened from a spec. */
  logger?: Logger;
}

/** What an adapter tells the core about one request. */
export interface IdempotencyRequest<Req = unknown> {
  /** The framework's own request, handed to the option callbacks. */
  raw: Req;
  method: string;
  /** Path without the query string: part of the record key. */
  path: string;
  /** Path with the query string: part of the default fingerprint. */
  url: string;
  /** A request header by lower-case name; repeated headers joined with `", "`. */
  header(name: string): string | undefined;
  /** The body as the framework has it (bytes, text or parsed JSON), or a promise of it; read only by the default fingerprint. */
  body(): unknown;
  /** The session object the session middleware attached, if any. */
  session?: unknown;
  /** The client address, for the default scope when there is no session. */
  address?: string | undefined;
}

/** A complete HTTP answer the adapter sends as is: a problem document or a replay. */
export interface IdempotencyAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** The response the handler produced, as the adapter captured it. */
export interface CapturedResponse {
  status: number;
  headers: Record<string, string | number | readonly string[] | undefined>;
  /** Every body byte, or `null` when the body outgrew `maxBodyBytes` and was not kept. */
  body: Uint8Array | null;
}

/** A reservation held while the handler runs; exactly one of its methods is called once. */
export interface IdempotencyTicket {
  /** Largest body the adapter needs to keep; past it, report `body: null`. */
  readonly maxBodyBytes: number;
  /** Saves the outcome for replay. Never rejects: failures go to `onError`. */
  complete(response: CapturedResponse): Promise<void>;
  /** Frees the key at once, for a request whose handler never ran. Never rejects. */
  abandon(): Promise<void>;
}

/**
 * What to do with a request: `pass` it to the handler untouched (method not covered, or no key
 * where none is required), send a ready `answer`, or run the handler holding a `ticket`.
 */
export type BeginResult =
  | { kind: 'pass' }
  | { kind: 'answer'; answer: IdempotencyAnswer; replayed: boolean }
  | { kind: 'ticket'; ticket: IdempotencyTicket };

/**
 * Counters of one idempotency middleware, live (read them at scrape time; `stateline/metrics`
 * does). Every adapter's middleware carries its core's as `stats`.
 *
 * @example
 * ```ts
 * const idem = idempotency({ store });
 * app.use(idem);
 * setInterval(() => console.log(idem.stats.replays, idem.stats.inFlight), 10_000);
 * ```
 */
export interface IdempotencyStats {
  /** Requests answered with the saved outcome of an earlier one (`Idempotent-Replayed: true`). */
  replays: number;
  /** 409 `SL_ERR_IDEMPOTENCY_IN_FLIGHT`: the key's first request was still running. */
  inFlight: number;
  /** 422 `SL_ERR_IDEMPOTENCY_MISMATCH`: the key was reused with another body or query. */
  mismatches: number;
}

/** The framework-neutral middleware; adapters translate to and from it. */
export interface Idempotency<Req = unknown> {
  /** Its counters (the same object for the life of the middleware). */
  readonly stats: Readonly<IdempotencyStats>;
  /** Decides a request. Never rejects: every failure becomes a problem answer. */
  begin(request: IdempotencyRequest<Req>): Promise<BeginResult>;
  /** True when the method is one the middleware handles (`methods`). */
  covers(method: string): boolean;
  /** Reports an error no response carries, through the `onError` option. */
  onError(err: unknown): void;
  /** Closes the Store if this middleware opened it from a spec; a Store passed in is left open. */
  close(): Promise<void>;
}
