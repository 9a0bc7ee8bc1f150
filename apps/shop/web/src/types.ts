/** The shop API's shapes, as the server sends them (see the contract in issue #7). */

export interface User {
  id: string;
  name: string;
}

export interface WhoAmI {
  instance: string;
  strategy: string;
  store: string;
  /** Where this instance keeps the session, in words ("in SQLite", "in i2's memory only"). */
  where: string;
  /** The gateway's balancing policy, when the cluster said. */
  balance: string | null;
  replication: string;
  user: User | null;
  /** What became of the session when the instance it was pinned to stopped serving it. */
  failover: FailoverNotice | null;
}

/** The server's account of a failover (header `X-Stateline-Failover`, or `whoami`). */
export interface FailoverNotice {
  from: string;
  to: string;
  outcome: 'restored' | 'kept' | 'lost' | 'none';
  text: string;
}

export interface Product {
  id: string;
  name: string;
  description: string;
  /** Integer cents. */
  price: number;
}

export interface CartItem {
  productId: string;
  qty: number;
}

export interface OrderLine extends CartItem {
  /** Integer cents, the price when the order was placed. */
  price: number;
}

export interface Order {
  id: string;
  items: OrderLine[];
  total: number;
  createdAt: number;
  idempotencyKey: string;
}

export interface SessionInfo {
  handle: string;
  /** A browser's cookie session, or an API client's token family. */
  kind: 'cookie' | 'token';
  createdAt: number;
  lastSeenAt: number;
  userAgent: string | null;
  current: boolean;
}

/** An RFC 9457 problem document with Stateline's `code`. */
export interface Problem {
  title?: string;
  detail?: string;
  status?: number;
  code?: string;
}

/** A limited drop as `GET /api/drop/:sku` shows it. */
export interface DropView {
  sku: string;
  name: string;
  description: string;
  /** Integer cents. */
  price: number;
  stock: number;
  left: number;
  sold: number;
  soldOut: boolean;
  /** Counts every sale; events newer than this one change what is shown. */
  version: number;
  /** The instance that holds the drop now. */
  owner: string;
}

/** What the drop's room carries after each sale. */
export interface DropEvent {
  kind: 'drop';
  sku: string;
  left: number;
  sold: number;
  version: number;
}

export interface ListItem {
  id: number;
  text: string;
  done: boolean;
  by: string;
}

/** A shared list as `GET /api/lists/:id` shows it. */
export interface ListView {
  id: string;
  items: ListItem[];
  version: number;
  owner: string;
}

/** What a list's room carries after each change. */
export type ListEvent =
  | { kind: 'list'; list: string; op: 'add' | 'toggle'; item: ListItem; version: number }
  | { kind: 'list'; list: string; op: 'remove'; id: number; version: number };
