/** The limited-stock drop the entity tests and fixtures share. */
import { defineEntity } from '../../src/entities/index.js';

export const Drop = defineEntity('drop', {
  initial: () => ({ left: 100, sold: [] as string[] }),
  handlers: {
    buy(state, args: { userId: string }, ctx) {
      if (state.left === 0) throw ctx.reject('SOLD_OUT', 'sold out');
      state.left--;
      state.sold.push(args.userId);
      ctx.emit({ left: state.left });
      return { left: state.left };
    },
    peek: { read: true, run: (state) => ({ left: state.left, sold: state.sold.length }) },
    orders: { read: true, run: (state) => ({ left: state.left, sold: state.sold }) },
  },
  snapshotEvery: 10,
});
