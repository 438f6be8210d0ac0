/** What `CLUSTER NODES` and `CLUSTER INFO` say, parsed (https://redis.io/docs/latest/commands/cluster-nodes/). */

/** An inclusive range of hash slots, [first, last]. */
export type SlotRange = readonly [number, number];

export const SLOT_COUNT = 16384;

export interface ClusterNode {
  /** The node's 40-character id. */
  id: string;
  /** host:port clients connect to (without the @bus-port). */
  address: string;
  port: number;
  role: 'master' | 'replica';
  /** For a replica, its master's id. */
  masterId: string | undefined;
  /** Flags such as myself, fail?, fail, handshake, noaddr. */
  flags: string[];
  /** Hash slots served, as inclusive ranges; empty for replicas. Slots being migrated are not listed. */
  slots: SlotRange[];
  /** `connected` or `disconnected`, as the node that answered sees it. */
  link: string;
}

/** Parses the text of `CLUSTER NODES`, one node per line. */
export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [id = '', addr = '', flagText = '', master = '-', , , , link = '', ...slotFields] = line.split(' ');
      const address = addr.split('@')[0] ?? '';
      const flags = flagText.split(',');
      const slots: SlotRange[] = slotFields
        // [slot->-id] and [slot-<-id] are migrations in progress, not served slots.
        .filter((f) => !f.startsWith('['))
        .map((f) => {
          const [from, to = from] = f.split('-').map(Number) as [number, number?];
          return [from, to] as const;
        });
      return {
        id,
        address,
        port: Number(address.slice(address.lastIndexOf(':') + 1)),
        role: flags.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? undefined : master,
        flags,
        slots,
        link,
      };
    });
}

/** Parses `CLUSTER INFO` (or INFO) `key:value` lines into a map. */
export function parseInfo(text: string): Record<string, string> {
  const entries = text
    .split('\r\n')
    .flatMap((line) => line.split('\n'))
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)] as const);
  return Object.fromEntries(entries);
}

/** True when a node is believed down by the one that answered (PFAIL or FAIL). */
export const isFailing = (node: ClusterNode) => node.flags.includes('fail') || node.flags.includes('fail?');

/** True when `ranges` cover every slot of `wanted` (both as inclusive ranges). */
export function covers(ranges: readonly SlotRange[], wanted: readonly SlotRange[]): boolean {
  return wanted.every(([from, to]) => {
    for (let slot = from; slot <= to; slot++) {
      if (!ranges.some(([a, b]) => a <= slot && slot <= b)) return false;
    }
    return true;
  });
}
