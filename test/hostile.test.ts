// Hostile callers in child processes: every public method with hostile
// arguments, stale and foreign Buffers, and random bytes scribbled over
// allocator memory, in release and debug mode. Each child must exit normally
// within its time limit: no signal (no crash), no hang, no untyped error.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const script = join(__dirname, 'hostile/fuzz-api.cjs');
const corrupt = join(__dirname, 'hostile/corrupt-freelist.cjs');
/** Children run by this file (reported at its end). */
let children = 0;
const ITERATIONS = 20_000;
const LIMIT_MS = 60_000;

function runChild(seed: number, debug: boolean, scribble: boolean) {
  const r = spawnSync(process.execPath, [script, String(seed), String(ITERATIONS), debug ? '1' : '0', scribble ? '1' : '0'], {
    encoding: 'utf8',
    timeout: LIMIT_MS,
  });
  children++;
  return r;
}

/** Checks a child ended on its own: no hang, no signal, exit 0; returns its last stdout line as JSON. */
function endedNormally(r: ReturnType<typeof spawnSync>): Record<string, number> {
  expect(r.error, 'the child hung past its time limit').toBeUndefined();
  expect(r.signal, `the child died of a signal\n${r.stderr}`).toBeNull();
  expect(r.status, String(r.stderr)).toBe(0);
  return JSON.parse(String(r.stdout).trim().split('\n').pop()!);
}

describe('hostile callers (child processes)', () => {
  for (const debug of [false, true]) {
    for (const scribble of [false, true]) {
      for (const seed of [1, 2, 3]) {
        // Pins: a crash (signal), a hang (timeout) or an untyped error under hostile input.
        it(`seed ${seed}, ${debug ? 'debug' : 'release'}${scribble ? ', scribbling' : ''}: exits normally`, () => {
          const stats = endedNormally(runChild(seed, debug, scribble));
          expect(stats.calls).toBeGreaterThan(ITERATIONS * 0.9);
          if (scribble) expect(stats.scribbles).toBeGreaterThan(0);
        });
      }
    }
  }
});

describe('corrupted free-list links (child processes)', () => {
  for (const kind of ['ObjectPool', 'SlabAllocator']) {
    for (const debug of [false, true]) {
      for (const seed of [1, 2, 3]) {
        // Pins: a scribbled free-list link followed as a pointer (a wild write, a live slot handed
        // out twice, a crash) instead of ERR_OFFHEAP_CORRUPTED; an allocator left unusable after it.
        it(`${kind}, seed ${seed}, ${debug ? 'debug' : 'release'}: typed errors, no live slot handed out, still usable`, () => {
          const r = spawnSync(process.execPath, [corrupt, kind, String(seed), debug ? '1' : '0'], { encoding: 'utf8', timeout: LIMIT_MS });
          children++;
          const out = endedNormally(r);
          expect(out.scribbled).toBeGreaterThan(2000);
          expect(out.corruptedErrors, 'no allocation met a corrupted link').toBeGreaterThan(0);
          expect(out.allocated).toBeGreaterThan(out.scribbled);
        });
      }
    }
  }

  it('ran every child', () => {
    // Pins: a suite that silently ran fewer children than it lists.
    expect(children).toBe(2 * 2 * 3 + 2 * 2 * 3);
    console.log(`hostile: ${children} children, 0 signals, 0 hangs`);
  });
});
