import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processCpuUs } from '../../scripts/bench/process-cpu.js';

describe("a process's CPU time (bench)", () => {
  it('counts a few milliseconds of work, finer than the 10 ms clock ticks of /proc/<pid>/stat', async () => {
    // A child that spins for 30 ms, then waits to be read.
    const child = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 30); setInterval(() => {}, 1000);']);
    try {
      await new Promise((r) => setTimeout(r, 400));
      const spent = processCpuUs(child.pid)!;
      // Node's own start-up counts too; what matters is that it is not rounded to whole ticks.
      expect(spent).toBeGreaterThan(30_000);
      expect(spent % 10_000).not.toBe(0);
      const again = processCpuUs(child.pid)!;
      expect(again).toBeGreaterThanOrEqual(spent);
    } finally {
      child.kill();
    }
    expect(processCpuUs(undefined)).toBeNull();
  });
});
