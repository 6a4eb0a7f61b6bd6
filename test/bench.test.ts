// The benchmark harness, checked the way CI can: a quick run of the suites
// that need no allocator (baseline, native, records, server) must produce a
// well-formed report, and the pieces that judge targets and write the README
// must say what they should. The figures themselves are never checked here.
import { describe, expect, it, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain .mjs module without types
import { compare, makeGroup, toMarkdown, fmt, fmtRatio, QUICK } from '../bench/harness.mjs';
// @ts-expect-error plain .mjs module without types
import { readmeSection, spliceReadme, START, END } from '../bench/readme.mjs';
// @ts-expect-error plain .mjs module without types
import { renderChart, renderLatencyChart } from '../bench/chart.mjs';

const root = join(__dirname, '..');

interface Row { name: string; peer: boolean; median: number | null; ratio: number | null; spread: number | null; unavailable?: string; ratioNote?: string; below?: number }
interface Target { candidate: string; status: string; value: number | null; label: string; reason?: string }
interface Group { title: string; note?: string; unit: string; baseline: string; rounds: number; better: string; rows: Row[]; targets: Target[]; latency?: { percentiles: number[]; rows: { name: string; us: (number | null)[] }[] } }
interface Report { quick: boolean; command: string; date: string; machine: { cpu: string; node: string }; suites: { name: string; error?: string; skipped?: string; groups: Group[]; notes?: string[]; summary?: { columns: string[]; rows: unknown[][] }[] }[] }

describe('npm run bench -- --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'offheap-bench-'));
  let report: Report;
  // The run's exit status and the tail of what it printed: a failure below
  // names the suite that failed and its own error, never an empty hook error.
  let run: { status: number | null; signal: string | null; error?: string; tail: string };
  beforeAll(() => {
    const r = spawnSync(process.execPath, ['bench/run.mjs', '--quick', 'baseline', 'native', 'records', 'server', 'sessions', '--out', join(dir, 'report')], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      env: { ...process.env, OFFHEAP_BENCH_NO_INSTALL: '1' },
      timeout: 890_000,
    });
    run = { status: r.status, signal: r.signal, error: r.error?.message, tail: String(r.stderr ?? '').split('\n').slice(-40).join('\n') };
    const file = join(dir, 'report.json');
    if (existsSync(file)) report = JSON.parse(readFileSync(file, 'utf8'));
  }, 900_000); // generous: on a loaded 2-core machine the quick run (callgrind included) takes minutes

  // A suite that crashed would be reported as an error entry, not as groups.
  it('ran every requested suite without error', () => {
    const failed = (report?.suites ?? []).filter((s) => s.error).map((s) => `${s.name}: ${s.error}`);
    const why = `bench/run.mjs --quick exited with ${run.status ?? run.signal}${run.error ? ` (${run.error})` : ''}, failed suites: ${failed.join('; ') || 'none'}`;
    expect({ status: run.status, failed }, `${why}\nits last lines:\n${run.tail}`)
      .toEqual({ status: 0, failed: [] });
    expect(report.quick).toBe(true);
    expect(report.suites.map((s) => s.name)).toEqual(['sessions', 'server', 'baseline', 'native', 'records']);
    for (const s of report.suites) {
      expect(s.error, s.name).toBeUndefined();
      // The server suites need wrk; without it they say how to install it.
      if (s.skipped) expect(s.skipped, s.name).toMatch(/wrk is not installed: .*apt-get install wrk/);
      else expect(s.groups.length, s.name).toBeGreaterThan(0);
    }
  });

  // The shape only, never the figures: a measured row has a finite median (a
  // figure below the tool's resolution says so), a ratio that could not be
  // formed is null with the reason, an unmeasured row says why.
  it('gives every row a figure or a reason, and every ratio a value or a reason', () => {
    for (const s of report.suites) {
      for (const g of s.groups) {
        expect(g.rows.length, g.title).toBeGreaterThan(0);
        expect(g.rows.some((r) => r.name === g.baseline), g.title).toBe(true);
        for (const r of g.rows) {
          const where = `${g.title}: ${r.name}`;
          if (r.median === null) {
            expect(typeof r.unavailable, where).toBe('string');
            continue;
          }
          expect(Number.isFinite(r.median), where).toBe(true);
          if (r.ratio === null) expect(typeof r.ratioNote, where).toBe('string');
          else expect(Number.isFinite(r.ratio) && r.ratio > 0, where).toBe(true);
        }
        for (const t of g.targets) expect(['met', 'not met', 'not measured']).toContain(t.status);
      }
    }
  });

  // The native suite must have its glibc and reference-floor rows in every build.
  it('has the native peer rows and the offheap rows', () => {
    const native = report.suites.find((s) => s.name === 'native')!;
    const churn = native.groups.find((g) => g.title.startsWith('churn') && g.unit === 'ns/op')!;
    const names = churn.rows.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['glibc malloc', 'reference inlined bump', 'reference union-slot pool', 'jemalloc', 'mimalloc', 'offheap ObjectPool']));
  });

  // offheap's core allocators are measured wherever they apply; where not, the row stays with why.
  it('measures the offheap core rows, and says why a row does not apply', () => {
    const native = report.suites.find((s) => s.name === 'native')!;
    const byTitle = (p: string) => native.groups.find((g) => g.title.startsWith(p) && g.unit === 'ns/op')!.rows;
    const measured = (rows: Row[], name: string) => rows.find((r) => r.name === name)!.median;
    for (const name of ['offheap Arena', 'offheap ObjectPool', 'offheap SlabAllocator']) expect(measured(byTitle('churn'), name)).not.toBeNull();
    for (const name of ['offheap ObjectPool + magazines', 'offheap SlabAllocator, shared']) expect(measured(byTitle('two threads'), name)).not.toBeNull();
    const arenaMixed = byTitle('mixed').find((r) => r.name === 'offheap Arena')!;
    expect(arenaMixed.median).toBeNull();
    expect(arenaMixed.unavailable).toMatch(/does not apply/);
  });

  // The server suites measure req/s (higher is better) and latency in µs, with a summary table and percentiles for the chart.
  it('reports the server workloads with throughput, latency percentiles and a summary', () => {
    for (const name of ['sessions', 'server']) {
      const s = report.suites.find((x) => x.name === name)!;
      if (s.skipped) continue;
      expect(s.groups[0].unit, name).toBe('req/s');
      expect(s.groups[0].better, name).toBe('higher');
      expect(s.groups.some((g) => g.unit === 'µs'), name).toBe(true);
      expect(s.groups[0].latency?.percentiles).toEqual([50, 90, 99, 99.9, 100]);
      expect(s.summary?.[0].columns).toContain('p99.9 µs');
    }
    const sessions = report.suites.find((x) => x.name === 'sessions')!;
    if (!sessions.skipped) {
      expect(sessions.groups[0].rows.map((r) => r.name)).toEqual(['plain objects in a Map', 'lru-cache (max = sessions)', 'a Buffer per session in a Map',
        'offheap records (layout over ObjectPool), Map<id, handle>', 'offheap SlabAllocator values, Map<id, handle>']);
      for (const r of sessions.groups[0].rows) expect(r.unavailable, r.name).toBeUndefined();
    }
  });

  it('writes the Markdown report and an SVG chart with a 1x line', () => {
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('Quick mode');
    expect(md).toContain('| candidate |');
    const svg = readFileSync(join(dir, 'report.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('>1x</text>');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('the committed report', () => {
  // Every number in the README comes from the committed bench/results/latest.json.
  it('is what README.md shows between the markers', () => {
    const latest = JSON.parse(readFileSync(join(root, 'bench/results/latest.json'), 'utf8'));
    expect(latest.quick).toBe(false);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const shown = readme.slice(readme.indexOf(START) + START.length, readme.indexOf(END)).trim();
    expect(shown, 'run `npm run bench:readme` and commit README.md').toBe(readmeSection(latest, 'bench/results/latest.svg').trim());
  });
});

describe('targets', () => {
  const rows = [
    { name: 'peer', samples: [30, 30, 30] },
    { name: 'fast', samples: [10, 10, 10] },
    { name: 'gone', unavailable: 'not in this build' },
  ];
  // A candidate far slower than the rest may run fewer ops per round: it gets
  // exactly those, its figure is still per op, and the note says so.
  it('runs a candidate with ops of its own that many times per round, and says so', async () => {
    const seen: Record<string, number[]> = { many: [], few: [] };
    const quiet = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write; // the progress lines
    let g: Group;
    try {
      g = await compare('ops', [
        { name: 'many', run: (n: number) => { seen.many.push(n); } },
        { name: 'few', ops: 700, run: (n: number) => { seen.few.push(n); } },
      ], { ops: 5000, rounds: 2, warmup: 1, note: 'A note.' });
    } finally {
      process.stderr.write = quiet;
    }
    const few = QUICK ? 7 : 700;
    expect(new Set(seen.few)).toEqual(new Set([few]));
    expect(new Set(seen.many)).toEqual(new Set([QUICK ? 50 : 5000]));
    expect(g.note).toBe(`A note. Fewer ops for the slowest (figures per op all the same): few: ${few} ops per round.`);
    expect(g.rows.map((r: { name: string }) => r.name)).toEqual(['many', 'few']);
  });

  // A target over a ratio: 3x faster meets "at least 2", misses "at least 4".
  it('says met or not met from the ratio against `vs`', () => {
    const g = makeGroup('t', rows, { target: [{ candidate: 'fast', vs: 'peer', atLeast: 2 }, { candidate: 'fast', vs: 'peer', atLeast: 4 }] });
    expect(g.targets.map((t: Target) => t.status)).toEqual(['met', 'not met']);
    expect(g.targets[0].value).toBeCloseTo(3);
  });

  // With better: 'higher' (throughput) the ratio flips.
  it('takes the direction of `better` into account', () => {
    const g = makeGroup('t', rows, { better: 'higher', target: { candidate: 'peer', vs: 'fast', atLeast: 2 } });
    expect(g.targets[0].status).toBe('met');
    expect(g.rows.find((r: Row) => r.name === 'fast').ratio).toBeCloseTo(1 / 3);
  });

  // An absolute bound in the group's unit (e.g. at most 15 instructions).
  it('checks absolute bounds', () => {
    const g = makeGroup('t', rows, { target: [{ candidate: 'fast', atMost: 15 }, { candidate: 'fast', atMost: 5 }] });
    expect(g.targets.map((t: Target) => t.status)).toEqual(['met', 'not met']);
  });

  // A missing candidate is never counted as met, and its row stays in the table.
  it('reports a target on an unavailable row as not measured, keeping the row', () => {
    const g = makeGroup('t', rows, { target: { candidate: 'gone', vs: 'peer', atLeast: 1 } });
    expect(g.targets[0].status).toBe('not measured');
    expect(g.targets[0].reason).toContain('not in this build');
    const md = toMarkdown(g);
    expect(md).toContain('not available: not in this build');
    expect(md).toContain(': not measured (gone: not in this build)');
  });

  // An unmeasured baseline leaves every other figure in place, each ratio n/a with the reason.
  it('keeps the figures of a group whose baseline was not measured, ratios n/a', () => {
    const g = makeGroup('t', rows, { baseline: 'gone' });
    const fast = g.rows.find((r: Row) => r.name === 'fast');
    expect(fast.median).toBe(10);
    expect(fast.ratio).toBeNull();
    expect(fast.ratioNote).toMatch(/baseline gone not measured \(not in this build\)/);
    expect(toMarkdown(g)).toContain('n/a (baseline gone not measured');
  });

  // A miss says the measured value and what the suite knows about why.
  it('says the measured value and the reason of a miss', () => {
    const g = makeGroup('t', rows, { target: { candidate: 'fast', vs: 'peer', atLeast: 4, label: 'fast at least 4x faster than peer', why: 'peer is already fast' } });
    expect(toMarkdown(g)).toContain('- target: fast at least 4x faster than peer: not met (measured 3.00x; peer is already fast)');
  });
});

describe('README section', () => {
  const report = {
    date: '2026-01-02T03:04:05.000Z', command: 'npm run bench', seconds: 90,
    machine: { cpu: 'cpu', cores: 2, memGiB: 4, node: 'v20', platform: 'linux-x64' },
    suites: [{ name: 's', groups: [makeGroup('g', [{ name: 'a', peer: true, samples: [2] }, { name: 'b', samples: [1] }], { target: { candidate: 'b', vs: 'a', atLeast: 3 } })] }],
  };
  // The splice replaces only what is between the markers.
  it('goes between the markers with machine, date, command, targets, the link to every table, and chart', () => {
    const before = `# x\n\nintro\n${START}\nold table\n${END}\n\nafter\n`;
    const after = spliceReadme(before, readmeSection(report, 'bench/results/latest.svg'));
    expect(after.startsWith('# x\n\nintro\n')).toBe(true);
    expect(after.endsWith(`${END}\n\nafter\n`)).toBe(true);
    expect(after).not.toContain('old table');
    for (const s of ['2026-01-02', 'cpu', '`npm run bench`', '[bench/results/latest.md](bench/results/latest.md)', '- not met: b at least 3x better than a', 'latest.svg']) expect(after).toContain(s);
    expect(after).not.toMatch(/MISSED|issue/);
  });

  it('throws when the README has no markers', () => {
    expect(() => spliceReadme('# x\n', 'y')).toThrow(/markers/);
  });

  it('charts every non-baseline row', () => {
    const svg = renderChart(report);
    expect(svg).toContain('>b</text>');
    expect(svg).toContain('2.00x');
  });
});

// Every figure a suite can produce: zero, below resolution, missing, NaN,
// Infinity, a failed suite, a group with no rows, a report with nothing in it.
describe('figures the harness cannot turn into numbers', () => {
  it('reports a figure below the resolution as such, and its ratio as n/a', () => {
    const g = makeGroup('p99', [{ name: 'a', samples: [0, 0, 0] }, { name: 'b', samples: [2, 2, 2] }], { unit: 'ms', resolution: 1 });
    const [a, b] = g.rows as Row[];
    expect(a.below).toBe(1);
    expect(a.ratio).toBe(1);
    expect(b.ratio).toBeNull();
    expect(b.ratioNote).toBe('a is below the 1 ms resolution');
    const md = toMarkdown(g);
    expect(md).toContain('| **a** | < 1 |');
    expect(md).toContain('n/a (a is below the 1 ms resolution)');
    expect(JSON.stringify(g)).not.toMatch(/Infinity|NaN/);
  });

  it('forms no ratio against a figure of 0 and says why', () => {
    const g = makeGroup('zero', [{ name: 'a', samples: [0] }, { name: 'b', samples: [5] }]);
    expect(g.rows[1].ratio).toBeNull();
    expect(g.rows[1].ratioNote).toBe('a measured 0 ns/op');
    const t = makeGroup('zero', [{ name: 'a', samples: [5] }, { name: 'b', samples: [0] }], { better: 'higher', target: { candidate: 'b', vs: 'a', atLeast: 1 } });
    expect(t.rows[1].ratio).toBeNull();
    expect(t.targets[0].status).toBe('not measured');
    expect(t.targets[0].reason).toBe('b measured 0 ns/op');
  });

  it('drops non-finite samples, and a row with none left is not measured', () => {
    const g = makeGroup('nan', [
      { name: 'a', samples: [1, NaN, 3, Infinity] },
      { name: 'b', samples: [NaN, -Infinity] },
      { name: 'c', samples: [] },
      { name: 'd' },
    ]);
    const [a, b, c, d] = g.rows as Row[];
    expect(a.median).toBe(2);
    expect(b.median).toBeNull();
    expect(b.unavailable).toBe('no finite figure measured');
    expect(c.unavailable).toBe('not measured');
    expect(d.unavailable).toBe('not measured');
    expect(JSON.parse(JSON.stringify(g))).toEqual(g);
  });

  it('keeps non-finite extra columns out of the JSON and shows them empty', () => {
    const g = makeGroup('x', [{ name: 'a', samples: [1], extra: { 'p99 us': NaN, 'RSS MiB': Infinity, note: 'text', gone: undefined } }]);
    expect(g.rows[0].extra).toEqual({ 'p99 us': null, 'RSS MiB': null, note: 'text', gone: null });
    expect(toMarkdown(g)).toContain('| **a** | 1.00 | ±0.0% | 1.00x |  |  | text |  |');
  });

  it('formats any value without throwing', () => {
    for (const v of [null, undefined, NaN, Infinity, -Infinity, 'x', {}, 0]) {
      expect(typeof fmt(v)).toBe('string');
      expect(typeof fmtRatio(v)).toBe('string');
    }
    expect(fmt(Infinity)).toBe('n/a');
    expect(fmtRatio(null)).toBe('n/a');
  });

  const hostile = {
    date: undefined, command: undefined, seconds: NaN, machine: undefined,
    suites: [
      { name: 'failed', error: 'exited with 1' },
      { name: 'empty' },
      { name: 'odd', groups: [
        { title: 'no rows', unit: 'ms', baseline: 'x' },
        { title: 'bad figures', unit: 'ms', baseline: 'a', better: 'lower', rows: [
          { name: 'a', median: NaN, ratio: Infinity },
          { name: 'b', median: 3, ratio: null, ratioNote: 'a is below the 1 ms resolution' },
          { name: 'c', median: Infinity, ratio: -1, unavailable: undefined },
          null,
        ], targets: [{ candidate: 'b', status: 'not measured', value: null, label: 'b vs a' }, { candidate: 'b', vs: 'a', status: 'met', value: Infinity, label: 'x' }],
        latency: { percentiles: [50, 99, 99.9, 100], rows: [{ name: 'a', us: [0, NaN, null, Infinity] }, { name: 'b', us: [10, 20] }, null] } },
        makeGroup('zero', [{ name: 'a', samples: [0] }, { name: 'b', samples: [NaN] }]),
      ], summary: [{ title: 't', columns: ['a', 'b'], rows: [[NaN, null], 'x'] }, null] },
    ],
  };

  it('renders the Markdown, both charts and the README section of any report', () => {
    for (const g of hostile.suites.flatMap((s) => s.groups ?? [])) expect(typeof toMarkdown(g)).toBe('string');
    const svg = renderChart(hostile);
    expect(svg).toContain('failed: suite failed (exited with 1)');
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    const lat = renderLatencyChart(hostile);
    expect(lat.startsWith('<svg')).toBe(true);
    expect(lat).not.toMatch(/NaN|Infinity/);
    const section = readmeSection(hostile, 'r.svg');
    expect(section).toContain('| failed | suite failed: exited with 1 | | |');
    expect(section).toContain('r-latency.svg');
    expect(renderLatencyChart({ suites: [] })).toContain('no latency figures');
    expect(() => readmeSection({}, 'r.svg')).not.toThrow();
    expect(() => renderChart({})).not.toThrow();
  });

  // run.mjs over a suites folder with one good, one throwing and one silently
  // dying suite: the two failures are reported, the report is still written.
  it('reports failed suites and still writes the whole report', () => {
    const dir = mkdtempSync(join(tmpdir(), 'offheap-suites-'));
    try {
      const harness = pathToFileURL(join(root, 'bench/harness.mjs')).href;
      writeFileSync(join(dir, 'good.mjs'), `import { makeGroup } from '${harness}';
        export default async () => ({ groups: [makeGroup('g', [{ name: 'a', samples: [0] }, { name: 'b', samples: [1] }], { unit: 'ms', resolution: 1,
          latency: { percentiles: [50, 99], rows: [{ name: 'a', us: [5, 50] }] } })] });`);
      writeFileSync(join(dir, 'throws.mjs'), 'export default async () => { throw new Error("load generator missing"); };');
      writeFileSync(join(dir, 'dies.mjs'), 'export default async () => { process.exit(3); };');
      const out = join(dir, 'r');
      const run = spawnSync(process.execPath, ['bench/run.mjs', '--quick', '--out', out], {
        cwd: root, encoding: 'utf8', env: { ...process.env, OFFHEAP_BENCH_SUITES: dir },
      });
      expect(run.status).toBe(1);
      const r = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
      expect(r.suites.map((s: { name: string; error?: string }) => [s.name, s.error])).toEqual([
        ['dies', 'exited with 3'], ['good', undefined], ['throws', 'load generator missing'],
      ]);
      const md = readFileSync(`${out}.md`, 'utf8');
      expect(md).toContain('**suite failed**: load generator missing');
      expect(md).toContain('| **a** | < 1 |');
      expect(readFileSync(`${out}.svg`, 'utf8')).toContain('suite failed (exited with 3)');
      expect(readFileSync(`${out}-latency.svg`, 'utf8')).toContain('<polyline');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
