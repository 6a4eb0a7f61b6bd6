// Hostile callers in child processes: every public method with hostile
// arguments, stale and foreign Buffers, and random bytes scribbled over
// allocator memory, in release and debug mode. Each child must exit normally
// within its time limit: no signal (no crash), no hang, no untyped error.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const script = join(__dirname, 'hostile/fuzz-api.cjs');
const ITERATIONS = 20_000;
const LIMIT_MS = 60_000;

function runChild(seed: number, debug: boolean, scribble: boolean) {
  const r = spawnSync(process.execPath, [script, String(seed), String(ITERATIONS), debug ? '1' : '0', scribble ? '1' : '0'], {
    encoding: 'utf8',
    timeout: LIMIT_MS,
  });
  return r;
}

describe('hostile callers (child processes)', () => {
  for (const debug of [false, true]) {
    for (const scribble of [false, true]) {
      for (const seed of [1, 2, 3]) {
        // Pins: a crash (signal), a hang (timeout) or an untyped error under hostile input.
        it(`seed ${seed}, ${debug ? 'debug' : 'release'}${scribble ? ', scribbling' : ''}: exits normally`, () => {
          const r = runChild(seed, debug, scribble);
          expect(r.error, 'the child hung past its time limit').toBeUndefined();
          expect(r.signal, `the child died of a signal\n${r.stderr}`).toBeNull();
          expect(r.status, r.stderr).toBe(0);
          const stats = JSON.parse(r.stdout.trim().split('\n').pop()!);
          expect(stats.calls).toBeGreaterThan(ITERATIONS * 0.9);
          if (scribble) expect(stats.scribbles).toBeGreaterThan(0);
        });
      }
    }
  }
});
