const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

/**
 * Integer cents as money.
 *
 * @example
 * ```ts
 * price(1200); // '$12.00'
 * ```
 */
export function price(cents: number): string {
  return money.format(cents / 100);
}

/**
 * An epoch-ms time as a short local date and time.
 *
 * @example
 * ```ts
 * when(Date.now()); // '14:03:12' today, else 'Mar 3, 14:03'
 * ```
 */
export function when(ms: number): string {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString()
    : d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
