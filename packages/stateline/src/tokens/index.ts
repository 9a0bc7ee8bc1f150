/**
 * `stateline/tokens`: bearer access tokens (JWS, EdDSA or ES256, key ring with `kid`) and rotating
 * refresh tokens with theft detection, for API clients, revocable like every session of the manager
 * they are built on. Needs the optional package `jose`. See docs/tokens.md.
 *
 * @example
 * ```ts
 * import { createTokens, generateTokenKey } from 'stateline/tokens';
 * import { bearer } from 'stateline/express';
 * const tokens = await createTokens({ keys: [await generateTokenKey()], sessions, issuer: 'https://shop.example', audience: 'shop-api' });
 * app.get('/api/orders', bearer(tokens, { scopes: ['orders:read'] }), (req, res) => res.json({ user: req.auth.userId }));
 * ```
 * @module
 */
export { createTokens } from './tokens.js';
export { generateTokenKey } from './generate-key.js';
export { bearerProblem } from './bearer-problem.js';
export { jwksHandler, jwksResponse, type JwksHandlerOptions, type JwksResponse } from './jwks-handler.js';
export type * from './types.js';
