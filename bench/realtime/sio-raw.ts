/**
 * The lightest Socket.IO client there is: Engine.IO v4 + Socket.IO v5 spoken directly over a `ws`
 * socket (websocket transport only, as the servers are configured). It answers pings (`2` → `3`),
 * connects to the main namespace (`40`), sends events as `42["send","…"]` and hands each received
 * `42["msg","…"]` frame to `onMessage` unparsed. socket.io-client does the same with its
 * engine.io/socket.io decoders and emitters on top; on 2 shared cores that decoding would make the
 * clients, not the Socket.IO server, the bottleneck.
 */
import WebSocket from 'ws';

export interface RawSocketIo {
  emit(text: string): void;
  close(): void;
}

/**
 * Opens a connection; resolves once the namespace is joined (`40{"sid"…}` received).
 *
 * @example
 * ```ts
 * const s = await openRawSocketIo('http://127.0.0.1:3000', (frame) => parse(frame), () => reconnect());
 * s.emit('hello');
 * ```
 */
export function openRawSocketIo(
  url: string,
  onMessage: (frame: Buffer) => void,
  onClose?: () => void,
): Promise<RawSocketIo> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
    });
    let connected = false;
    ws.on('error', (err) => (connected ? undefined : reject(err)));
    ws.on('close', () => connected && onClose?.());
    ws.on('message', (data: Buffer) => {
      const t = data[0];
      if (t === 0x34 /* 4: message */) {
        if (data[1] === 0x32 /* 2: event */) return onMessage(data);
        if (data[1] === 0x30 /* 0: connect ack */ && !connected) {
          connected = true;
          resolve({
            emit: (text) => ws.send(`42["send",${JSON.stringify(text)}]`),
            close: () => ws.terminate(),
          });
        }
      } else if (t === 0x30 /* 0: open */) ws.send('40');
      else if (t === 0x32 /* 2: ping */) ws.send('3');
    });
  });
}
