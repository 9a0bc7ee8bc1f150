import { defineError } from 'stateline/errors';

/*
 * The lab's own error codes (the control API under `/_stateline/` and the supervisor). The control
 * API also answers `SL_ERR_NOT_FOUND` from `stateline/http`; docs/ERRORS.md lists these under
 * @stateline/lab.
 */

/**
 * 401: the control API was called without the right `Authorization: Bearer <token>` while
 * `--admin-token` is set.
 *
 * @example
 * ```ts
 * send(res, problem(SL_ERR_UNAUTHORIZED, undefined, { 'www-authenticate': 'Bearer realm="stateline"' }));
 * ```
 */
export const SL_ERR_UNAUTHORIZED = defineError(
  'SL_ERR_UNAUTHORIZED',
  401,
  'This needs a valid admin token (Authorization: Bearer <token>)',
);

/**
 * 403: the control API was called from another host while no `--admin-token` is set.
 *
 * @example
 * ```ts
 * send(res, problem(SL_ERR_FORBIDDEN, 'start stateline up with --admin-token to allow other hosts'));
 * ```
 */
export const SL_ERR_FORBIDDEN = defineError(
  'SL_ERR_FORBIDDEN',
  403,
  'Only local clients may use this without an admin token',
);

/**
 * 502: an instance process exited before it reported listening, or did not report in time.
 *
 * @example
 * ```ts
 * reject(new SL_ERR_INSTANCE_FAILED(`instance i2 (app.js) exited with code 1`));
 * ```
 */
export const SL_ERR_INSTANCE_FAILED = defineError(
  'SL_ERR_INSTANCE_FAILED',
  502,
  'An instance process exited or did not start listening in time',
);

/**
 * 500: a network-namespace harness command (`ip netns …`, `ip link …`, `tc …`) failed; the message
 * names the command and its error.
 *
 * @example
 * ```ts
 * reject(new SL_ERR_NETNS_FAILED('ip netns add sln-1-1-i1: Operation not permitted'));
 * ```
 */
export const SL_ERR_NETNS_FAILED = defineError(
  'SL_ERR_NETNS_FAILED',
  500,
  'A network namespace or traffic control command failed',
);

/**
 * 502: `--proxy haproxy` could not start HAProxy (not installed, refused its configuration, or
 * did not listen in time), or its runtime API refused a command.
 *
 * @example
 * ```ts
 * throw new SL_ERR_PROXY_FAILED('haproxy was not found at /usr/sbin/haproxy (apt-get install haproxy)');
 * ```
 */
export const SL_ERR_PROXY_FAILED = defineError(
  'SL_ERR_PROXY_FAILED',
  502,
  'The external proxy could not be started or driven',
);

/**
 * Every code the lab defines (docs/ERRORS.md, section @stateline/lab).
 *
 * @example
 * ```ts
 * import { LAB_ERRORS } from '@stateline/lab';
 * LAB_ERRORS.map((e) => e.code); // ['SL_ERR_UNAUTHORIZED', 'SL_ERR_FORBIDDEN', 'SL_ERR_INSTANCE_FAILED', 'SL_ERR_NETNS_FAILED', 'SL_ERR_PROXY_FAILED']
 * ```
 */
export const LAB_ERRORS = [
  SL_ERR_UNAUTHORIZED,
  SL_ERR_FORBIDDEN,
  SL_ERR_INSTANCE_FAILED,
  SL_ERR_NETNS_FAILED,
  SL_ERR_PROXY_FAILED,
] as const;
