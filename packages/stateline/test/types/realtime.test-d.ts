// Type tests of `stateline/realtime/client` in Node: the `ws` class is a `WebSocketConstructor`
// as it is, so `connect(url, { WebSocket })` needs no cast.
import { expectTypeOf } from 'expect-type';
import { connect, type WebSocketConstructor, type WebSocketLike } from 'stateline/realtime/client';
import WebSocket from 'ws';

expectTypeOf(WebSocket).toMatchTypeOf<WebSocketConstructor>();
expectTypeOf(new WebSocket('ws://127.0.0.1:3000/realtime')).toMatchTypeOf<WebSocketLike>();

const client = connect('ws://127.0.0.1:3000/realtime', { WebSocket, headers: { cookie: 'sl.sid=…' } });
const joined = client.join('orders:42', { since: 0 });
expectTypeOf(joined).resolves.toHaveProperty('room');

// @ts-expect-error the class, not an instance
connect('ws://127.0.0.1:3000/realtime', { WebSocket: new WebSocket('ws://127.0.0.1:3000/realtime') });
