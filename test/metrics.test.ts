// Observability: module-level stats(), the Prometheus text format and the
// prom-client collector, over fake allocators registered like real ones.
import { afterEach, describe, expect, it } from 'vitest';
import { register, unregister, stats, type AllocatorStats, type Registered } from '../lib/registry';
import { registerPrometheusCollector, toPrometheus } from '../lib/metrics';
import { expectCode } from './helpers';

function fake(name: string, kind: string, base: number, classes?: object[]): Registered {
  const s: AllocatorStats = {
    reservedBytes: base, committedBytes: base + 1, liveBytes: base + 2, liveCount: base + 3,
    peakLiveBytes: base + 4, allocCount: base + 5, freeCount: base + 6, failedCount: base + 7,
  };
  return { name, kind, stats: () => (classes ? { ...s, classes } : s) };
}

const registered: Registered[] = [];
function add(a: Registered): Registered {
  register(a);
  registered.push(a);
  return a;
}
afterEach(() => {
  for (const a of registered.splice(0)) unregister(a);
});

describe('stats()', () => {
  // The module-level sum covers every registered allocator and none after unregister.
  it('sums every live allocator', () => {
    const before = stats();
    add(fake('a', 'Arena', 100));
    const b = add(fake('b', 'ObjectPool', 1000));
    const s = stats();
    expect(s.allocators - before.allocators).toBe(2);
    expect(s.liveBytes - before.liveBytes).toBe(102 + 1002);
    unregister(b);
    expect(stats().allocators - before.allocators).toBe(1);
  });
});

describe('toPrometheus()', () => {
  it('renders HELP, TYPE and one sample per allocator with escaped labels', () => {
    add(fake('req "pool"\\1\nx', 'ObjectPool', 10));
    const text = toPrometheus();
    expect(text).toContain('# TYPE offheap_live_bytes gauge');
    expect(text).toContain('# TYPE offheap_allocations_total counter');
    expect(text).toContain('offheap_live_bytes{allocator="req \\"pool\\"\\\\1\\nx",kind="ObjectPool"} 12');
    expect(text.endsWith('\n')).toBe(true);
    // Every non-comment line is `name{labels} value`.
    for (const line of text.trim().split('\n')) {
      if (!line.startsWith('#')) expect(line).toMatch(/^offheap_[a-z_]+\{[^}]*\} [-+0-9.eInfNa]+$/);
    }
  });

  it('adds per-class series for slab allocators', () => {
    add(fake('slab', 'SlabAllocator', 0, [{ size: 16, slabs: 2, objectsPerSlab: 4096, live: 5, total: 8192, emptySlabs: 1 }]));
    const text = toPrometheus();
    expect(text).toContain('offheap_slab_class_live_objects{allocator="slab",size="16"} 5');
    expect(text).toContain('offheap_slab_class_empty_slabs{allocator="slab",size="16"} 1');
  });
});

describe('registerPrometheusCollector()', () => {
  it('exposes the same figures through prom-client at scrape time', async () => {
    const prom = await import('prom-client');
    const registry = new prom.Registry();
    const names = registerPrometheusCollector(prom, registry);
    expect(names).toContain('offheap_live_bytes');
    add(fake('scraped', 'Arena', 40));
    const text = await registry.metrics();
    expect(text).toContain('offheap_live_bytes{allocator="scraped",kind="Arena"} 42');
  });

  it('rejects something that is not prom-client', () => {
    expectCode(() => registerPrometheusCollector({}), 'ERR_INVALID_ARG_TYPE', TypeError);
  });
});
