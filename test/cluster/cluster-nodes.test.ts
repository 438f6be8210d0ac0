/** Parsing CLUSTER NODES / CLUSTER INFO for the test cluster helper. */
import { describe, expect, it } from 'vitest';
import { covers, isFailing, parseClusterNodes, parseInfo } from '../../scripts/lib/cluster-nodes.js';

// Shaped as in https://redis.io/docs/latest/commands/cluster-nodes/, with a single slot, a
// migration in progress and a failed master.
const NODES = [
  '07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,hostname4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected',
  '67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,hostname2 master - 0 1426238316232 2 connected 5461-10922',
  '292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003,hostname3 master,fail - 0 1426238318243 3 connected 10923-16383',
  'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,hostname1 myself,master - 0 0 1 connected 0-5459 5460 [5461->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]',
].join('\n');

describe('parseClusterNodes', () => {
  const nodes = parseClusterNodes(`${NODES}\n`);

  it('reads id, address without the bus port, role, master and slot ranges', () => {
    expect(nodes).toHaveLength(4);
    expect(nodes[0]).toMatchObject({
      id: '07c37dfeb235213a872192d90877d0cd55635b91',
      address: '127.0.0.1:30004',
      port: 30004,
      role: 'replica',
      masterId: 'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca',
      slots: [],
    });
    expect(nodes[1]).toMatchObject({ role: 'master', masterId: undefined, slots: [[5461, 10922]], link: 'connected' });
    // A single slot is a range of one; a migration in progress is not a served slot.
    expect(nodes[3]!.slots).toEqual([[0, 5459], [5460, 5460]]);
    expect(nodes[3]!.flags).toEqual(['myself', 'master']);
  });

  it('tells failing nodes apart', () => {
    expect(nodes.map(isFailing)).toEqual([false, false, true, false]);
  });
});

describe('covers', () => {
  it('is true only when every wanted slot is in some range', () => {
    expect(covers([[0, 100], [101, 200]], [[50, 150]])).toBe(true);
    expect(covers([[0, 100], [102, 200]], [[50, 150]])).toBe(false);
    expect(covers([[7, 7]], [[7, 7]])).toBe(true);
  });
});

describe('parseInfo', () => {
  it('reads key:value lines, with CRLF line ends and section headers', () => {
    expect(parseInfo('# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n')).toEqual({ role: 'slave', master_link_status: 'up' });
    expect(parseInfo('cluster_state:ok\ncluster_slots_ok:16384\n')['cluster_slots_ok']).toBe('16384');
  });
});
