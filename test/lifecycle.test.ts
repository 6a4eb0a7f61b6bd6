// Lifecycles a Node program puts the allocators through, driven by Node's own
// machinery rather than by arguments, each in a child process (test/lifecycle/):
// workers terminated in the middle of native calls, process.exit() from
// either side, threadpool and socket I/O on views while their allocator is
// destroyed, reset or trimmed, structured clone and postMessage of views,
// Node's Buffer API over views. Every child must end normally (exit 0, no
// signal, no hang), and no byte of a live allocation may change except
// through its owner (the children count such "foreign" bytes).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const LIMIT_MS = 120_000;
let children = 0;

function run(script: string, args: (string | number)[], nodeFlags: string[] = []): Record<string, number> {
  const r = spawnSync(process.execPath, [...nodeFlags, join(__dirname, 'lifecycle', script), ...args.map(String)], {
    encoding: 'utf8',
    timeout: LIMIT_MS,
  });
  children++;
  expect(r.error, `${script} hung past its time limit`).toBeUndefined();
  expect(r.signal, `${script} died of a signal\n${r.stderr}`).toBeNull();
  expect(r.status, `${script} ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return JSON.parse(String(r.stdout).trim().split('\n').pop()!);
}

describe('workers ended in the middle of native calls (child processes)', () => {
  for (const debug of [0, 1]) {
    const mode = debug ? 'debug' : 'release';
    // Pins: FATAL ERROR Error::ThrowAsJavaScriptException napi_throw (exit 134) or a crash on a
    // failed N-API call while a worker's environment stops; a worker's write into the main thread's memory.
    it(`worker.terminate() mid-call, every allocator kind, ${mode}: no abort, no foreign byte`, () => {
      const out = run('terminate.cjs', ['terminate', 3, 8, debug]);
      expect(out.workers).toBe(24);
      expect(out.exited).toBe(24);
      expect(out.foreign).toBe(0);
    });
  }

  // Pins: FATAL ERROR Error::New napi_get_last_error_info (exit 134): a boolean argument read by
  // coercion, which fails while the worker's environment stops, then read again with no environment.
  it('worker.terminate() while workers only create allocators: no abort, no foreign byte', () => {
    const out = run('terminate.cjs', ['construct', 4, 20, 0]);
    expect(out.workers).toBe(80);
    expect(out.exited).toBe(80);
    expect(out.foreign).toBe(0);
  });

  // Pins: an abort when a worker calls process.exit() between native calls.
  it('process.exit() inside workers: no abort, no foreign byte', () => {
    const out = run('terminate.cjs', ['worker-exit', 2, 8, 0]);
    expect(out.exited).toBe(16);
    expect(out.foreign).toBe(0);
  });

  // Pins: an abort when the main thread exits while workers are inside native calls.
  for (const seed of [1, 2, 3]) {
    it(`process.exit() from the main thread while workers churn (run ${seed}): exits 0`, () => {
      const out = run('terminate.cjs', ['main-exit', 1, 6 + seed, 0]);
      expect(out.workers).toBe(6 + seed);
      expect(out.foreign).toBe(0);
    });
  }
});

describe('I/O into views while their memory is given back (child processes)', () => {
  for (const debug of [0, 1]) {
    // Pins: SIGSEGV when destroy() unmaps under crypto.randomFill / fs.read / zlib / a socket
    // (the deleter of a detached buffer used to be the unmap); a late write landing in a new
    // allocator's live allocation (a range reused while a backing store over it lived).
    it(`randomFill, fs.read, zlib and sockets during destroy / reset / trim, ${debug ? 'debug' : 'release'}: no crash, no foreign byte`, () => {
      const out = run('io.cjs', [1, debug]);
      expect(out.ops).toBe(debug ? 30 : 36); // debug mode leaves out free() under zlib (see io.cjs)
      expect(out.checks).toBeGreaterThan(0);
      expect(out.foreign).toBe(0);
    });
  }
});

describe('views through Node (child process)', () => {
  // Pins: a clone or postMessage of a small view copying the whole region (and other
  // allocations' bytes); views that are a Buffer subclass (deepStrictEqual, constructor,
  // inspect, map/subarray/slice results); free() of an empty view at the neighbour's start
  // freeing the neighbour; free(Proxy) without a code; debug views of a handle freed in another
  // thread living on; a WeakRef per debug view() call.
  it('clone and postMessage are bounded; views are Buffers; misuse is refused; debug views die across threads', () => {
    const out = run('views.cjs', [], ['--expose-gc']);
    expect(out.clones).toBe(12);
    expect(out.posts).toBe(10);
    expect(out.bufferApi).toBe(6);
    expect(out.refused).toBe(8);
    expect(out.debugThreads).toBe(2);
    console.log(`lifecycle: ${children} child processes, each exited normally`);
  });
});
