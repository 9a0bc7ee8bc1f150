import type { WebSocketServer } from 'ws';
import { StatelineError } from '../errors.js';

/** The part of the `ws` package the hub uses. */
export interface WsModule {
  WebSocketServer: typeof WebSocketServer;
}

let loaded: Promise<WsModule> | undefined;

/**
 * Loads the optional peer `ws` on first use. (`loadPeer` hands back a module's default export,
 * which for `ws` is the client class alone; the hub needs the named `WebSocketServer`.)
 */
export function loadWs(purpose = 'The realtime hub'): Promise<WsModule> {
  loaded ??= import('ws').then(
    (mod: WsModule) => mod,
    (cause: unknown) => {
      loaded = undefined;
      throw new StatelineError(
        'SL_ERR_PEER_DEPENDENCY_MISSING',
        `${purpose} needs the package "ws": run \`npm install ws\``,
        { cause },
      );
    },
  );
  return loaded;
}
