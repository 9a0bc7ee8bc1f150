import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { forwarded, proxyTrust, type Forwarded } from 'stateline/http';

/**
 * Reads what a request says about its client, believing `X-Forwarded-For`/`-Proto`/`-Host` only
 * from `trustedProxies` (the shop's `STATELINE_TRUSTED_PROXIES`; default the local gateway,
 * `127.0.0.1,::1`). The gateway appends the address it saw to `X-Forwarded-For`; entries from
 * anyone else (a client sending its own header straight to an instance port) are ignored.
 *
 * @example
 * ```ts
 * const clientOf = clientReader(['127.0.0.1']);
 * clientOf(req).address; // '203.0.113.9' for X-Forwarded-For: "1.2.3.4, 203.0.113.9" from 127.0.0.1
 * ```
 */
export function clientReader(trustedProxies: readonly string[]): (req: IncomingMessage) => Forwarded {
  const trusted = proxyTrust(trustedProxies);
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
      trusted,
    );
}
