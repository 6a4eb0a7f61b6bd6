// Shared by the vitest suites: GC, RSS, and assertions on typed errors.
import { expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { backing } from '../lib/native';

/**
 * The suite runs whole under both backings (OFFHEAP_BACKING=v8 npm test).
 * Under the v8 backing the region buffers are V8's own, which N-API cannot
 * detach safely (pools' and slabs' are SharedArrayBuffers, never
 * detachable): tests of detaching run under the external backing only, and
 * test/backing.test.ts checks what the v8 backing does instead.
 */
export const externalBacking = backing === 'external';

/** Runs the GC (tests run with --expose-gc) and lets finalizers run. */
export async function collect(rounds = 3): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('tests must run with --expose-gc');
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Resident set size from /proc (bytes), cheaper and fresher than memoryUsage. */
export function rss(): number {
  const resident = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
  return resident * 4096;
}

/** Asserts that fn throws an error with `code` (and, if given, the class); `what` names the call in a failure. */
export function expectCode(fn: () => unknown, code: string, cls?: Function, what = 'the call'): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${code} from ${what}`).toBeDefined();
  expect((thrown as { code?: string }).code, what).toBe(code);
  if (cls) expect(thrown, what).toBeInstanceOf(cls);
}

/** The async counterpart of expectCode. */
export async function expectCodeAsync(fn: () => Promise<unknown>, code: string): Promise<void> {
  let thrown: unknown;
  try {
    await fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ${code}`).toBeDefined();
  expect((thrown as { code?: string }).code).toBe(code);
}

/** A zoo of wrong values for argument tests. */
export const HOSTILE: unknown[] = [
  -1, -0.5, 0.5, NaN, Infinity, -Infinity, 2 ** 53, '16', null, {}, [], 1n, true, Symbol('x'), () => 1,
];
