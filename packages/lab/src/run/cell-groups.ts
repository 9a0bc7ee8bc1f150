import type { ProxyKind } from '../cluster-options.js';
import type { LabConfig } from './config.js';

/** One row of a lab run: a config at an instance count and a state size. */
export interface Cell {
  instances: number;
  stateSize: number | null;
}

/** Cells that run one after another on one cluster (kept when there is more than one). */
export interface CellGroup {
  config: LabConfig;
  proxy: ProxyKind;
  /** In the report's order: instance counts ascending, state sizes ascending within each. */
  cells: Cell[];
}

/**
 * How a config's cells share clusters. Through the built-in gateway on this machine, all of them
 * share one: it starts with the smallest instance count and gains instances for each larger one.
 * Behind HAProxy or nginx (configured with the instances they start with) and with
 * `--network netns` (a host per instance), each instance count gets its own cluster, shared by its
 * state sizes. A strategy switch leaves its instances in the other configuration: a cluster per cell.
 *
 * @example
 * ```ts
 * cellGroups(parseConfig('token'), 'builtin', [1, 2], [1, 100], false);
 * // one group: (1, 1), (1, 100), (2, 1), (2, 100)
 * ```
 */
export function cellGroups(
  config: LabConfig,
  proxy: ProxyKind,
  counts: readonly number[],
  sizes: readonly (number | null)[],
  netns: boolean,
): CellGroup[] {
  const cellsAt = (instances: number) => sizes.map((stateSize) => ({ instances, stateSize }));
  if (config.switchTo)
    return counts.flatMap((n) => cellsAt(n).map((cell) => ({ config, proxy, cells: [cell] })));
  if (proxy !== 'builtin' || netns) return counts.map((n) => ({ config, proxy, cells: cellsAt(n) }));
  return [{ config, proxy, cells: counts.flatMap(cellsAt) }];
}
