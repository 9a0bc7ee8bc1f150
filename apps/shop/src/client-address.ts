import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { forwarded, proxyTrust, type Forwarded } from 'stateline/http';
import { GATEWAY_PROOF_HEADER } from 'stateline/instance';

/**
 * Reads what a request says about its client, believing `X-Forwarded-For`/`-Proto`/`-Host` only
 * from `trustedProxies` (the shop's `STATELINE_TRUSTED_PROXIES`; default the local gateway,
 * `127.0.0.1,::1`) and, when `gatewaySecret` is set (`STATELINE_GATEWAY_SECRET`, which
 * `stateline up` gives every instance), only on requests carrying `X-Stateline-Gateway` with it.
 * The gateway appends the address it saw to `X-Forwarded-For`; entries from anyone else (a client
 * sending its own header straight to an instance port, also from the gateway's host) are ignored.
 *
 * @example
 * ```ts
 * const clientOf = clientReader(['127.0.0.1'], process.env.STATELINE_GATEWAY_SECRET);
 * clientOf(req).address; // '203.0.113.9' for X-Forwarded-For: "1.2.3.4, 203.0.113.9" from the gateway
 * ```
 */
export function clientReader(
  trustedProxies: readonly string[],
  gatewaySecret?: string,
): (req: IncomingMessage) => Forwarded {
  const byAddress = proxyTrust(trustedProxies);
  const secret = gatewaySecret === undefined ? undefined : Buffer.from(gatewaySecret);
  const proven = (req: IncomingMessage): boolean => {
    if (secret === undefined) return true;
    const given = req.headers[GATEWAY_PROOF_HEADER];
    if (typeof given !== 'string') return false;
    const bytes = Buffer.from(given);
    return bytes.length === secret.length && timingSafeEqual(bytes, secret);
  };
  return (req) =>
    forwarded(
      {
        peer: req.socket.remoteAddress,
        encrypted: (req.socket as TLSSocket).encrypted === true,
        header: (name) => {
          const v = req.headers[name];
          return Array.isArray(v) ? v.join(', ') : v;
        },
      },
      (address) => byAddress(address) && proven(req),
    );
}
