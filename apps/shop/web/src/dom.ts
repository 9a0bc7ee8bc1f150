type Child = Node | string | number | null | undefined | false;
type Prop = string | number | boolean | null | undefined | ((ev: Event) => void);

/**
 * Creates an element. Props: `class`, `testid` (→ `data-testid`), `onclick`-style listeners,
 * `value`/`checked`/`disabled` as properties, anything else as an attribute. Text goes in as text,
 * never as HTML.
 *
 * @example
 * ```ts
 * h('button', { class: 'primary', testid: 'add-mug', onclick: () => add('mug') }, 'Add');
 * ```
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, Prop> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = String(value);
    else if (key === 'testid') el.dataset.testid = String(value);
    else if (key === 'value' || key === 'checked' || key === 'disabled')
      (el as unknown as Record<string, unknown>)[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, ...children);
  return el;
}

/**
 * Appends children, skipping empty ones.
 *
 * @example
 * ```ts
 * append(list, h('li', {}, 'one'), cond && h('li', {}, 'two'));
 * ```
 */
export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(
      typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c,
    );
  }
}

/**
 * Replaces all children of `parent`.
 *
 * @example
 * ```ts
 * replace(view, h('p', {}, 'Loading…'));
 * ```
 */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}
