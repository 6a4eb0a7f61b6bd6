/**
 * Observability: every live allocator of this thread in the Prometheus text
 * exposition format (version 0.0.4), and an optional prom-client collector.
 */
import { invalidArgType } from './errors';
import { liveAllocators, type AllocatorStats, type Registered } from './registry';

/** A slab's per-class row, as stats().classes reports it. */
interface ClassRow {
  size: number;
  slabs?: number;
  objectsPerSlab?: number;
  live?: number;
  total?: number;
  emptySlabs?: number;
}

type Kind = 'gauge' | 'counter';
interface Metric {
  name: string;
  help: string;
  type: Kind;
  stat: keyof AllocatorStats;
}

/** The allocator-level series, one sample per allocator. */
const METRICS: readonly Metric[] = [
  { name: 'offheap_reserved_bytes', help: 'Address space reserved by the allocator.', type: 'gauge', stat: 'reservedBytes' },
  { name: 'offheap_committed_bytes', help: 'Bytes the allocator has handed out pages for.', type: 'gauge', stat: 'committedBytes' },
  { name: 'offheap_live_bytes', help: 'Bytes in live allocations.', type: 'gauge', stat: 'liveBytes' },
  { name: 'offheap_live_allocations', help: 'Live allocations.', type: 'gauge', stat: 'liveCount' },
  { name: 'offheap_peak_live_bytes', help: 'Highest liveBytes seen.', type: 'gauge', stat: 'peakLiveBytes' },
  { name: 'offheap_allocations_total', help: 'Allocations made.', type: 'counter', stat: 'allocCount' },
  { name: 'offheap_frees_total', help: 'Allocations freed.', type: 'counter', stat: 'freeCount' },
  { name: 'offheap_failed_allocations_total', help: 'Allocations refused (exhausted).', type: 'counter', stat: 'failedCount' },
];

/** The per-class series of slab allocators. */
const CLASS_METRICS: readonly { name: string; help: string; key: keyof ClassRow }[] = [
  { name: 'offheap_slab_class_slabs', help: 'Slabs of this size class.', key: 'slabs' },
  { name: 'offheap_slab_class_live_objects', help: 'Live objects of this size class.', key: 'live' },
  { name: 'offheap_slab_class_total_objects', help: 'Object slots of this size class.', key: 'total' },
  { name: 'offheap_slab_class_empty_slabs', help: 'Empty slabs kept for this size class.', key: 'emptySlabs' },
];

/** Escapes a label value as the exposition format requires. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function sample(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
}

interface Snapshot {
  allocator: Registered;
  stats: AllocatorStats & { classes?: ClassRow[] };
}

function snapshot(): Snapshot[] {
  return liveAllocators().map((allocator) => ({ allocator, stats: allocator.stats() as Snapshot['stats'] }));
}

/**
 * Renders every live allocator's counters in the Prometheus text format,
 * with `offheap_` metric names and `allocator` / `kind` labels (slab classes
 * add a `size` label). Returns the text; never throws for a live registry.
 */
export function toPrometheus(): string {
  const snaps = snapshot();
  const out: string[] = [];
  for (const m of METRICS) {
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const { allocator, stats } of snaps) {
      out.push(`${m.name}{allocator="${label(allocator.name)}",kind="${label(allocator.kind)}"} ${sample(stats[m.stat])}`);
    }
  }
  const slabs = snaps.filter((s) => Array.isArray(s.stats.classes));
  if (slabs.length > 0) {
    for (const m of CLASS_METRICS) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} gauge`);
      for (const { allocator, stats } of slabs) {
        for (const row of stats.classes!) {
          const v = row[m.key];
          if (typeof v !== 'number') continue;
          out.push(`${m.name}{allocator="${label(allocator.name)}",size="${row.size}"} ${sample(v)}`);
        }
      }
    }
  }
  return `${out.join('\n')}\n`;
}

/** What registerPrometheusCollector needs of prom-client (structurally). */
interface PromClient {
  Gauge: new (config: { name: string; help: string; labelNames: string[]; registers: unknown[]; collect(this: PromGauge): void }) => unknown;
  register: unknown;
}
interface PromGauge {
  reset(): void;
  set(labels: Record<string, string>, value: number): void;
}

/**
 * Registers gauges with prom-client (when the application has it) that read
 * every live allocator at scrape time. Pass your prom-client module (and
 * optionally a Registry); without one, `require('prom-client')` is tried.
 * Counters are exposed as gauges (prom-client counters cannot be set).
 * Returns the metric names registered. Throws a TypeError when prom-client
 * is neither passed nor installed.
 */
export function registerPrometheusCollector(client?: unknown, registry?: unknown): string[] {
  let prom = client as PromClient | undefined;
  if (prom === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      prom = require('prom-client') as PromClient;
    } catch {
      throw invalidArgType('client', 'the prom-client module (prom-client is not installed)', undefined);
    }
  }
  if (typeof prom?.Gauge !== 'function') throw invalidArgType('client', 'the prom-client module', client);
  const registers = [registry ?? prom.register];
  const names: string[] = [];
  for (const m of METRICS) {
    const stat = m.stat;
    new prom.Gauge({
      name: m.name, help: m.help, labelNames: ['allocator', 'kind'], registers,
      collect() {
        this.reset();
        for (const { allocator, stats } of snapshot()) this.set({ allocator: allocator.name, kind: allocator.kind }, stats[stat]);
      },
    });
    names.push(m.name);
  }
  for (const m of CLASS_METRICS) {
    const key = m.key;
    new prom.Gauge({
      name: m.name, help: m.help, labelNames: ['allocator', 'size'], registers,
      collect() {
        this.reset();
        for (const { allocator, stats } of snapshot()) {
          for (const row of stats.classes ?? []) {
            const v = row[key];
            if (typeof v === 'number') this.set({ allocator: allocator.name, size: String(row.size) }, v);
          }
        }
      },
    });
    names.push(m.name);
  }
  return names;
}
