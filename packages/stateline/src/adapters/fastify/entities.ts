import type { FastifyInstance } from 'fastify';
import type { Entities } from '../../entities/entities.js';
import { handleEntityCall } from '../../entities/http.js';
import type { EntityRoutesOptions } from '../node/entities.js';

/**
 * Entity routes for Fastify, as a plugin: `POST /:type/:key/:method` (JSON args,
 * `Idempotency-Key` header) → `entities.call`, under the `prefix` Fastify registers it with.
 * Inside the plugin's scope JSON bodies are kept as text and parsed once, by the neutral core.
 *
 * @example
 * ```ts
 * await app.register(entityRoutes(entities), { prefix: '/entities', secret: process.env.ENTITY_SECRET });
 * ```
 */
export function entityRoutes(entities: Entities, defaults: Omit<EntityRoutesOptions, 'prefix'> = {}) {
  return async function statelineEntities(
    app: FastifyInstance,
    opts: Omit<EntityRoutesOptions, 'prefix'> = {},
  ): Promise<void> {
    const secret = opts.secret ?? defaults.secret;
    app.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: opts.maxBodyBytes ?? defaults.maxBodyBytes ?? 1 << 20 },
      (_req, body, done) => done(null, body),
    );
    app.post<{ Params: { type: string; key: string; method: string } }>(
      '/:type/:key/:method',
      async (request, reply) => {
        const { type, key, method } = request.params;
        const path = `/${[type, key, method].map(encodeURIComponent).join('/')}`;
        const body = typeof request.body === 'string' ? request.body : '';
        const a = await handleEntityCall(
          entities,
          { method: 'POST', path, headers: request.headers, body },
          secret === undefined ? {} : { secret },
        );
        // The path has its three parts, so the core always answers.
        return reply.code(a!.status).headers(a!.headers).send(a!.body);
      },
    );
  };
}
