// Measuring helpers for suites and their child processes: GC pauses from
// PerformanceObserver 'gc' entries (counted only between start() and stop()),
// resident memory from /proc, and loading offheap when a build may lack a class.
import { PerformanceObserver } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';

/** Returns { start(), stop() -> { count, totalMs, maxMs } }; flush() waits for late entries. */
export function gcRecorder() {
  let on = false;
  let count = 0;
  let totalMs = 0;
  let maxMs = 0;
  const obs = new PerformanceObserver((list) => {
    if (!on) return;
    for (const e of list.getEntries()) {
      count++;
      totalMs += e.duration;
      if (e.duration > maxMs) maxMs = e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return {
    start() {
      count = 0;
      totalMs = 0;
      maxMs = 0;
      on = true;
    },
    /** GC entries are delivered asynchronously: let them arrive before reading. */
    async stop() {
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 10));
      on = false;
      return { count, totalMs, maxMs };
    },
    /** The pauses counted so far (entries of the last moments may still be on their way). */
    snapshot() {
      return { count, totalMs, maxMs };
    },
    close() {
      obs.disconnect();
    },
  };
}

/** Current and peak resident set size in MiB, from /proc/self/status. */
export function memory() {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, peakRssMiB: kb('VmHWM') / 1024 };
}

/**
 * Loads offheap and returns { mod } or { missing: reason } when the package
 * is not built or lacks `name` (so a suite runs before and after a merge).
 */
export async function loadOffheap(name) {
  let mod;
  try {
    mod = await import('offheap');
  } catch (e) {
    return { missing: `offheap not loadable (run \`npm run build:ts\`): ${String(e.message).split('\n')[0]}` };
  }
  if (typeof mod[name] !== 'function') return { missing: `offheap ${name} not available in this build` };
  return { mod };
}
