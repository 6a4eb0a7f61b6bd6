// The benchmark harness, checked the way CI can: a quick run of the suites
// that need no allocator (baseline, native, records, server) must produce a
// well-formed report, and the pieces that judge targets and write the README
// must say what they should. The figures themselves are never checked here.
import { describe, expect, it, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain .mjs module without types
import { makeGroup, toMarkdown } from '../bench/harness.mjs';
// @ts-expect-error plain .mjs module without types
import { readmeSection, spliceReadme, START, END } from '../bench/readme.mjs';
// @ts-expect-error plain .mjs module without types
import { renderChart } from '../bench/chart.mjs';

const root = join(__dirname, '..');

interface Row { name: string; peer: boolean; median: number | null; ratio: number | null; spread: number | null; unavailable?: string }
interface Target { candidate: string; status: string; value: number | null; label: string }
interface Group { title: string; unit: string; baseline: string; rounds: number; better: string; rows: Row[]; targets: Target[] }
interface Report { quick: boolean; command: string; date: string; machine: { cpu: string; node: string }; suites: { name: string; error?: string; groups: Group[]; notes?: string[] }[] }

describe('npm run bench -- --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'offheap-bench-'));
  let report: Report;
  beforeAll(() => {
    execFileSync(process.execPath, ['bench/run.mjs', '--quick', 'baseline', 'native', 'records', 'server', '--out', join(dir, 'report')], {
      cwd: root,
      stdio: 'pipe',
      env: { ...process.env, OFFHEAP_BENCH_NO_INSTALL: '1' },
    });
    report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
  }, 180_000);

  // A suite that crashed would be reported as an error entry, not as groups.
  it('ran every requested suite without error', () => {
    expect(report.quick).toBe(true);
    expect(report.suites.map((s) => s.name)).toEqual(['baseline', 'native', 'records', 'server']);
    for (const s of report.suites) {
      expect(s.error, s.name).toBeUndefined();
      expect(s.groups.length, s.name).toBeGreaterThan(0);
    }
  });

  // Every measured row has a finite positive figure and ratio; the baseline is 1x.
  it('gives every group a measured baseline and finite ratios', () => {
    for (const s of report.suites) {
      for (const g of s.groups) {
        expect(g.rows.length, g.title).toBeGreaterThan(0);
        const base = g.rows.find((r) => r.name === g.baseline);
        expect(base?.ratio, g.title).toBe(1);
        for (const r of g.rows) {
          if (r.median === null) {
            expect(typeof r.unavailable, `${g.title}: ${r.name}`).toBe('string');
            continue;
          }
          expect(Number.isFinite(r.median) && r.median > 0, `${g.title}: ${r.name} median ${r.median}`).toBe(true);
          expect(Number.isFinite(r.ratio) && (r.ratio as number) > 0, `${g.title}: ${r.name} ratio ${r.ratio}`).toBe(true);
          expect(Number.isFinite(r.spread), `${g.title}: ${r.name} spread`).toBe(true);
        }
        for (const t of g.targets) expect(['met', 'MISSED', 'not measured']).toContain(t.status);
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
    for (const name of ['offheap Arena', 'offheap ObjectPool', 'offheap SlabAllocator']) expect(measured(byTitle('churn'), name)).toBeGreaterThan(0);
    for (const name of ['offheap ObjectPool + magazines', 'offheap SlabAllocator, shared']) expect(measured(byTitle('two threads'), name)).toBeGreaterThan(0);
    const arenaMixed = byTitle('mixed').find((r) => r.name === 'offheap Arena')!;
    expect(arenaMixed.median).toBeNull();
    expect(arenaMixed.unavailable).toMatch(/does not apply/);
  });

  // The server suite measures req/s (higher is better) and says so.
  it('reports the server throughput as higher-is-better', () => {
    const server = report.suites.find((s) => s.name === 'server')!;
    expect(server.groups[0].unit).toBe('req/s');
    expect(server.groups[0].better).toBe('higher');
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
  // A target over a ratio: 3x faster meets "at least 2", misses "at least 4".
  it('says whether a target is met from the ratio against `vs`', () => {
    const g = makeGroup('t', rows, { target: [{ candidate: 'fast', vs: 'peer', atLeast: 2 }, { candidate: 'fast', vs: 'peer', atLeast: 4 }] });
    expect(g.targets.map((t: Target) => t.status)).toEqual(['met', 'MISSED']);
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
    expect(g.targets.map((t: Target) => t.status)).toEqual(['met', 'MISSED']);
  });

  // A missing candidate is never counted as met, and its row stays in the table.
  it('reports a target on an unavailable row as not measured, keeping the row', () => {
    const g = makeGroup('t', rows, { target: { candidate: 'gone', vs: 'peer', atLeast: 1 } });
    expect(g.targets[0].status).toBe('not measured');
    expect(g.targets[0].reason).toContain('not in this build');
    const md = toMarkdown(g);
    expect(md).toContain('not available: not in this build');
    expect(md).toContain('**not measured**');
  });

  it('refuses a group whose baseline was not measured', () => {
    expect(() => makeGroup('t', rows, { baseline: 'gone' })).toThrow(/baseline/);
  });
});

describe('README section', () => {
  const report = {
    date: '2026-01-02T03:04:05.000Z', command: 'npm run bench', seconds: 90,
    machine: { cpu: 'cpu', cores: 2, memGiB: 4, node: 'v20', platform: 'linux-x64' },
    suites: [{ name: 's', groups: [makeGroup('g', [{ name: 'a', peer: true, samples: [2] }, { name: 'b', samples: [1] }], { target: { candidate: 'b', vs: 'a', atLeast: 3 } })] }],
  };
  // The splice replaces only what is between the markers.
  it('goes between the markers with machine, date, command, rows, targets and chart', () => {
    const before = `# x\n\nintro\n${START}\nold table\n${END}\n\nafter\n`;
    const after = spliceReadme(before, readmeSection(report, 'bench/results/latest.svg'));
    expect(after.startsWith('# x\n\nintro\n')).toBe(true);
    expect(after.endsWith(`${END}\n\nafter\n`)).toBe(true);
    expect(after).not.toContain('old table');
    for (const s of ['2026-01-02', 'cpu', '`npm run bench`', '| s | g | a: 2.00 ns/op | **b**: 2.00x (1.00) |', '**not met**', 'latest.svg']) expect(after).toContain(s);
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
