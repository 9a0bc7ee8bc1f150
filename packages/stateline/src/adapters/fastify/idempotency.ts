import { Readable, Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { problemFor } from '../../http/problem.js';
import { BodyCapture } from '../../idempotency/body-capture.js';
import { createIdempotency } from '../../idempotency/idempotency-core.js';
import type {
  CapturedResponse,
  IdempotencyOptions,
  IdempotencyStats,
  IdempotencyTicket,
} from '../../idempotency/types.js';
import { joinHeader } from '../node/node-http.js';

/** Options of the Fastify plugin; callbacks receive the `FastifyRequest`. */
export type FastifyIdempotencyOptions = IdempotencyOptions<FastifyRequest>;

/** The Fastify plugin, with `close()` for a Store it opened from a spec (also run on `app.close()`). */
export type FastifyIdempotency = ((app: FastifyInstance) => Promise<void>) & {
  close(): Promise<void>;
  readonly stats: Readonly<IdempotencyStats>;
};

/**
 * Idempotency-Key plugin for Fastify 5: a `preHandler` hook reserves the key (after body parsing,
 * so the default fingerprint sees `request.body`) and an `onSend` hook saves the serialized reply
 * before it leaves. Its hooks apply to the scope it is registered in, like fastify-plugin's. A
 * handler that throws is answered by Fastify's error handler, and that answer is what retries replay.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { idempotency } from 'stateline/fastify';
 * const app = Fastify();
 * await app.register(idempotency({ store: 'redis://127.0.0.1:6379', required: true }));
 * app.post('/orders', async (req, reply) => reply.code(201).header('location', '/orders/1').send({ id: 1 }));
 * await app.listen({ port: 3000 });
 * ```
 */
export function idempotency(options: FastifyIdempotencyOptions = {}): FastifyIdempotency {
  const core = createIdempotency<FastifyRequest>(options);
  const tickets = new WeakMap<FastifyRequest, IdempotencyTicket>();

  const plugin = async (app: FastifyInstance): Promise<void> => {
    app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
      const r = await core.begin({
        raw: request,
        method: request.method,
        path: request.url.split('?', 1)[0]!,
        url: request.url,
        header: (name) => joinHeader(request.headers[name]),
        body: () => request.body,
        session: (request as { session?: unknown }).session,
        address: request.ip,
      });
      if (r.kind === 'ticket') tickets.set(request, r.ticket);
      if (r.kind !== 'answer') return;
      return reply.code(r.answer.status).headers(r.answer.headers).send(Buffer.from(r.answer.body));
    });

    app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const ticket = tickets.get(request);
      if (!ticket) return payload;
      tickets.delete(request);
      const saved: Omit<CapturedResponse, 'body'> = { status: reply.statusCode, headers: reply.getHeaders() };
      if (payload instanceof Readable) return captureStream(payload, ticket, saved);
      const bytes =
        payload === null || payload === undefined ? Buffer.alloc(0) : Buffer.from(payload as string | Buffer);
      await ticket.complete({ ...saved, body: bytes.byteLength > ticket.maxBodyBytes ? null : bytes });
      return payload;
    });

    app.addHook('onClose', async () => core.close());
  };
  // Fastify's documented opt-out of encapsulation: the hooks apply to the registering scope.
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return Object.assign(plugin, { close: () => core.close(), stats: core.stats });
}

/** Passes a streamed reply through, keeping its bytes; the end is held until the outcome is saved. */
function captureStream(
  stream: Readable,
  ticket: IdempotencyTicket,
  saved: Omit<CapturedResponse, 'body'>,
): Readable {
  const body = new BodyCapture(ticket.maxBodyBytes);
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      body.add(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      void ticket.complete({ ...saved, body: body.bytes() }).then(() => callback());
    },
  });
  stream.once('error', (err) => {
    // The handler ran but its stream broke: save a 500 so a retry does not run it again.
    const p = problemFor(err);
    void ticket.complete({ status: p.status, headers: p.headers, body: Buffer.from(p.body) });
    tap.destroy(err);
  });
  return stream.pipe(tap);
}
