/** The shop API's shapes, as the server sends them (see the contract in issue #7). */

export interface User {
  id: string;
  name: string;
}

export interface WhoAmI {
  instance: string;
  strategy: string;
  store: string;
  user: User | null;
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
