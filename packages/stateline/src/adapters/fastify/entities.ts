import type { FastifyInstance } from 'fastify';
import type { Entities } from '../../entities/entities.js';
import { handleEntityCall } from '../../entities/http.js';
import type { EntityRoutesOptions } from '../node/entities.js';

/**
 * Entity routes for Fastify, as a plugin: `POST <prefix>/:type/:key/:method` (JSON args,
 * `Idempotency-Key` header) → `entities.call`.
 *
 * @example
 * ```ts
 * await app.register(entityRoutes(entities), { prefix: '/entities', secret: process.env.ENTITY_SECRET });
 * ```
 */
export function entityRoutes(entities: Entities, defaults: EntityRoutesOptions = {}) {
  return async function statelineEntities(
    app: FastifyInstance,
    opts: EntityRoutesOptions = {},
  ): Promise<void> {
    const prefix = (opts.prefix ?? defaults.prefix ?? '/entities').replace(/\/+$/, '');
    const secret = opts.secret ?? defaults.secret;
    // The raw text: the args are parsed once, by the neutral core.
    app.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: opts.maxBodyBytes ?? defaults.maxBodyBytes ?? 1 << 20 },
      (_req, body, done) => done(null, body),
    );
    app.post(`${prefix}/:type/:key/:method`, async (request, reply) => {
      const path = request.url.split('?')[0]!.slice(prefix.length);
      const body = typeof request.body === 'string' ? request.body : '';
      const a = await handleEntityCall(
        entities,
        { method: 'POST', path, headers: request.headers, body },
        { ...(secret ? { secret } : {}) },
      );
      return reply.code(a!.status).headers(a!.headers).send(a!.body);
    });
  };
}
