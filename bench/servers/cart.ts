/** A cart line shaped like apps/shop/src/cart.ts's `CartLine`. */
export interface CartLine {
  productId: string;
  qty: number;
}

/**
 * A cart of `items` lines as the shop keeps it in the session (`{ items: [...] }`), with
 * distinct product ids of a realistic length and varied quantities.
 *
 * @example
 * ```ts
 * cartOf(2); // { items: [{ productId: 'sku-000000-mug', qty: 1 }, { productId: 'sku-000001-tee', qty: 2 }] }
 * ```
 */
export function cartOf(items: number): { items: CartLine[] } {
  const names = ['mug', 'tee', 'cap', 'sticker', 'hoodie', 'notebook', 'pen'];
  return {
    items: Array.from({ length: items }, (_, i) => ({
      productId: `sku-${String((i * 7919) % 1_000_000).padStart(6, '0')}-${names[i % names.length]!}`,
      qty: 1 + ((i * 3) % 5),
    })),
  };
}
