import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

export interface HeapGroup {
  /** Constructor name for objects, the V8 node type otherwise (`string`, `array`, `hidden`…). */
  name: string;
  count: number;
  bytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Writes a heap snapshot of this process and sums the shallow size of its nodes by constructor, largest first. */
export function summarizeHeap(top: number): HeapGroup[] {
  const file = writeHeapSnapshot(join(tmpdir(), `slbench-${process.pid}.heapsnapshot`));
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
    const fields = s.snapshot.meta.node_fields;
    const types = s.snapshot.meta.node_types[0];
    const width = fields.length;
    const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
      number,
      number,
      number,
    ];
    const groups = new Map<string, HeapGroup>();
    for (let i = 0; i < s.nodes.length; i += width) {
      const type = types[s.nodes[i + iType]!] ?? 'unknown';
      // Strings are named by their content: group them by type; objects by constructor.
      const name =
        type === 'object' || type === 'closure' || type === 'native'
          ? `${type === 'object' ? '' : `${type} `}${s.strings[s.nodes[i + iName]!]}`
          : `(${type})`;
      const g = groups.get(name) ?? { name, count: 0, bytes: 0 };
      g.count++;
      g.bytes += s.nodes[i + iSize]!;
      groups.set(name, g);
    }
    return [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top);
  } finally {
    rmSync(file, { force: true });
  }
}
