// External-memory accounting (DESIGN.md section 2, docs/memory-model.md):
// V8 schedules GCs by the external memory it counts, yet no GC frees offheap
// memory. An arena's region is counted once and only when `buffer` is read;
// what its views sit on is made once and cached; fresh arenas created and
// destroyed in a loop must not drive major GCs. In a child process, so no other suite's buffers move the
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

  // Pins: every arena's whole reservation (16 MiB each) counted by V8 on creation.
  it('counts only the windows of an arena whose buffer was never read', () => {
    expect(out.arenasReserved).toBe(40 * 16 * MiB);
    expect(out.arenasExternal).toBeGreaterThan(0);
    expect(out.arenasExternal).toBeLessThan(40 * MiB);
  });

  // Pins: overlapping windows counting parts of a region twice (64 KiB windows every 56 KiB
  // counted a full arena for 8/7 of its reservation).
  it('counts the windows over a full arena no more than its reservation', () => {
    expect(out.fullViews).toBeGreaterThan(1000);
    expect(out.fullReserved).toBe(16 * MiB);
    expect(out.fullExternal).toBeGreaterThanOrEqual(16 * MiB - 64 * 1024);
    // V8 adds about 100 bytes of its own per ArrayBuffer (256 windows here): 64 KiB is room for that.
    expect(out.fullExternal).toBeLessThanOrEqual(16 * MiB + 64 * 1024);
  });

  // Pins: a pool's or slab's whole reservation counted on creation, and overlapping windows
  // counting parts of it twice.
  for (const key of ['pool', 'slab']) {
    it(`counts a ${key} for the windows its views sit on, at most its region, and for its buffer once read`, () => {
      const region = out[`${key}BufferBytes`];
      expect(region).toBeGreaterThanOrEqual(16 * MiB - 64 * 1024);
      expect(out[`${key}Reserved`]).toBeGreaterThanOrEqual(region);
      // Created and shared: its state table and magazine block (at most a byte per 16 bytes of region) only.
      expect(out[`${key}CreatedExternal`]).toBeLessThan(region / 8);
      expect(out[`${key}Views`]).toBeGreaterThan(10_000);
      expect(out[`${key}ViewsExternal`]).toBeGreaterThan(region / 2);
      // What the windows add: at most the region (V8 adds about 100 bytes per ArrayBuffer).
      expect(out[`${key}ViewsExternal`] - out[`${key}CreatedExternal`]).toBeLessThanOrEqual(region + 64 * 1024);
      // Reading `buffer` adds the region once.
      expect(out[`${key}BufferExternal`] - out[`${key}ViewsExternal`]).toBeGreaterThanOrEqual(region);
      expect(out[`${key}BufferExternal`] - out[`${key}ViewsExternal`]).toBeLessThan(region + 1024);
    });
  }

  // Pins: a region counted more than once per thread.
  it('counts a region once its buffer is read', () => {
    expect(out.buffersExternal).toBeGreaterThanOrEqual(out.arenasReserved - 2 * MiB);
    expect(out.buffersExternal).toBeLessThanOrEqual(out.arenasReserved + MiB);
  });

  // Pins: 2,000 fresh 16 MiB arenas with views driving V8 to hundreds of major GCs by external-memory pressure.
  it('lets fresh arenas be created and destroyed without external-memory pressure', () => {
    expect(out.cyclesMajorGCs).toBeLessThan(40);
  });

  // Pins: a scope's recycled arenas growing V8's count request after request.
  it('does not grow while a scope lends and takes back arenas', () => {
    expect(out.scopeExternal).toBeLessThan(4 * MiB);
  });

  // Pins: reservations never unmapped once destroyed and collected, or V8's count drifting.
  it('returns to where it started once everything is destroyed and collected', () => {
    expect(Math.abs(out.afterExternal)).toBeLessThan(MiB);
    expect(out.afterReserved).toBe(0);
  });
});
