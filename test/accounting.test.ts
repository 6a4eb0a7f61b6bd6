// Honest external-memory accounting (DESIGN.md section 2, docs/memory-model.md):
// V8 schedules GCs by the external memory it counts, yet no GC frees offheap
// memory. V8 must count each reservation at most once (the region's own
// buffer, made only when `buffer` is read), never the windows and slices
// views sit on, and fresh arenas created and destroyed in a loop must not
// drive major GCs. In a child process, so no other suite's buffers move the
// count; every figure is bytes or a count of GCs, never a time.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { externalBacking } from './helpers';

const MiB = 1 << 20;

function run(): Record<string, number> {
  const r = spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'accounting', 'external.cjs')], { encoding: 'utf8', timeout: 120_000 });
  expect(r.error, 'external.cjs hung past its time limit').toBeUndefined();
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

// Under the v8 backing V8 allocates the regions itself and counts what it allocated (docs/platforms.md).
describe.runIf(externalBacking)('external memory seen by V8 (child process)', () => {
  let out: Record<string, number> = {};
  beforeAll(() => {
    out = run();
  }, 120_000);

  // Pins: every arena's whole reservation counted by V8 on creation (16 MiB each) and every window on top of it.
  it('counts neither the windows nor the region of an arena whose buffer was never read', () => {
    expect(out.arenasReserved).toBe(40 * 16 * MiB);
    expect(out.arenasExternal).toBeLessThan(MiB);
  });

  // Pins: windows counted on top of the region's buffer (V8 saw more than the process reserved).
  it('counts a region once its buffer is read, and never more than the process reserved', () => {
    expect(out.buffersExternal).toBeGreaterThan(out.arenasReserved / 2);
    expect(out.buffersExternal).toBeLessThanOrEqual(out.arenasReserved + MiB);
  });

  // Pins: pool and slab views counting their windows in V8's external memory.
  it('does not count pool and slab views', () => {
    expect(out.poolSlabReservedGrowth).toBe(0);
    expect(out.poolSlabViewsExternal).toBeLessThan(MiB);
  });

  // Pins: 2,000 fresh 16 MiB arenas with views driving V8 to hundreds of major GCs by external-memory pressure.
  it('lets fresh arenas be created and destroyed without external-memory pressure', () => {
    expect(out.cyclesPeakExternal).toBeLessThan(4 * MiB);
    expect(out.cyclesMajorGCs).toBeLessThan(40);
  });

  // Pins: a scope's recycled arenas growing V8's count request after request.
  it('does not grow while a scope lends and takes back arenas', () => {
    expect(Math.abs(out.scopeExternal)).toBeLessThan(MiB);
  });

  // Pins: a window's count given back twice or never (V8's count drifting), reservations never unmapped.
  it('returns to where it started once everything is destroyed and collected', () => {
    expect(Math.abs(out.afterExternal)).toBeLessThan(MiB);
    expect(out.afterReserved).toBe(0);
  });
});
