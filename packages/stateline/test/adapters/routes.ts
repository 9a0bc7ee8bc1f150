/** The same small app, written once per framework by each adapter test, so the suite can drive them alike. */
import type { Session } from '../../src/session/types.js';

const gates = new Map<
  string,
  { wait: Promise<void>; open: () => void; reached: () => void; atGate: Promise<void> }
>();

/** A request parks at `name` until the test opens it; the test can await the request reaching it. */
export function gate(name: string) {
  let g = gates.get(name);
  if (!g) {
    let open!: () => void;
    let reached!: () => void;
    const wait = new Promise<void>((r) => (open = r));
    const atGate = new Promise<void>((r) => (reached = r));
    g = { wait, open, reached, atGate };
    gates.set(name, g);
  }
  return g;
}

/** What each route does with the session; the framework code only maps request and response. */
export const handlers = {
  cart: (s: Session) => ({ cart: s.get<string[]>('cart') ?? [], user: s.userId }),
  add: async (s: Session, item: string) => ({
    size: (await s.update<string[]>('cart', (c = []) => [...c, item])).length,
  }),
  login: async (s: Session, user: string) => {
    await s.login(user);
    return { user: s.userId };
  },
  logout: (s: Session) => s.destroy(),
  slow: async (s: Session, name: string) => {
    const g = gate(name);
    g.reached();
    await g.wait;
    s.set('cart', [...(s.get<string[]>('cart') ?? []), 'slow']);
    return { ok: true };
  },
  /** What express-session code does: assign a property. It must throw, not vanish. */
  assign: (s: Session) => {
    try {
      (s as unknown as Record<string, unknown>).cart = ['assigned'];
      return { threw: null, cart: s.get('cart') ?? null };
    } catch (err) {
      return { threw: `${(err as Error).name}: ${(err as Error).message}`, cart: s.get('cart') ?? null };
    }
  },
  big: (s: Session) => {
    s.set('big', 'x'.repeat(10_000));
    return { ok: true };
  },
};
