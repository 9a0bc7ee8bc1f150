/** What the tokens bench and its servers share: the rows, and the issuer and audience of every token. */
export const ISSUER = 'https://bench.example';
export const AUDIENCE = 'bench-api';
export const ROWS = [
  'express-bearer',
  'express-bearer-nocache',
  'express-jwt',
  'fastify-bearer',
  'fastify-jwt',
  'fastify-jwt-cache',
] as const;
export type TokensRow = (typeof ROWS)[number];
