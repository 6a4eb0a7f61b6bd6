// npm run bench [-- --quick] [-- suite-name ...] [-- --out DIR/NAME] [-- --no-readme]:
// runs every suite under bench/suites in its own child process (so one suite's
// garbage and JIT state never bleed into the next), then writes the report as
// Markdown, JSON and an SVG chart of the ratios:
//   full run of every suite  -> bench/results/latest.{md,json,svg} and README.md's table
//   --quick                  -> bench/results/quick.*   (CI smoke run: checks the harness)
//   some suites only         -> bench/results/partial.*
// --out PATH writes PATH.{md,json,svg} instead (the README is then left alone).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { toMarkdown } from './harness.mjs';
import { renderChart } from './chart.mjs';
import { updateReadme } from './readme.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outIndex = args.indexOf('--out');
const outArg = outIndex >= 0 ? args[outIndex + 1] : null;
const wanted = args.filter((a, i) => !a.startsWith('--') && (outIndex < 0 || i !== outIndex + 1));
const all = readdirSync(join(here, 'suites'))
  .filter((f) => f.endsWith('.mjs'))
  .map((f) => f.replace(/\.mjs$/, ''))
  .sort();
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; suites: ${all.join(', ')}`);
  process.exit(2);
}
const suites = wanted.length ? all.filter((s) => wanted.includes(s)) : all;
const complete = suites.length === all.length;

const tmp = join(here, 'results/tmp');
mkdirSync(tmp, { recursive: true });
const cpus = os.cpus();
const report = {
  date: new Date().toISOString(),
  command: `npm run bench${quick || !complete ? ` -- ${[quick && '--quick', ...(complete ? [] : suites)].filter(Boolean).join(' ')}` : ''}`,
  machine: { cpu: cpus[0]?.model, cores: cpus.length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}`, load: os.loadavg().map((l) => +l.toFixed(2)) },
  quick,
  seconds: 0,
  suites: [],
};
const t0 = Date.now();
let failed = 0;
suites.forEach((name, i) => {
  console.error(`\n== [${i + 1}/${suites.length}] ${name}`);
  const started = Date.now();
  const out = join(tmp, `${name}.json`);
  rmSync(out, { force: true });
  const child = spawnSync(process.execPath, ['--expose-gc', join(here, 'suite-runner.mjs'), name, out, ...(quick ? ['--quick'] : [])], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const seconds = (Date.now() - started) / 1000;
  console.error(`== ${name}: ${child.status === 0 ? 'done' : 'FAILED'} in ${seconds.toFixed(1)} s`);
  if (child.status !== 0) {
    failed++;
    report.suites.push({ name, seconds, error: `exited with ${child.status ?? child.signal}` });
    return;
  }
  report.suites.push({ name, seconds, ...JSON.parse(readFileSync(out, 'utf8')) });
});
report.seconds = (Date.now() - t0) / 1000;

const md = [
  '# offheap benchmarks',
  '',
  `${report.date}, ${report.machine.cpu} (${report.machine.cores} cores), Node ${report.machine.node}, \`${report.command}\`, ${report.seconds.toFixed(0)} s, load average at start ${report.machine.load.join(' ')}`,
  '',
  'Bold rows are offheap, the others its peers. Every figure is a median over interleaved rounds (spread: half the',
  'interquartile range over the median); ratios are against the group\'s baseline measured in the same run.',
  '',
];
if (quick) md.push('**Quick mode**: tiny counts, few rounds; these figures check the harness and mean nothing.', '');
for (const s of report.suites) {
  md.push(`## ${s.name}`, '');
  if (s.error) md.push(`**failed**: ${s.error}`, '');
  for (const g of s.groups ?? []) md.push(toMarkdown(g));
  for (const line of s.notes ?? []) md.push(line, '');
}
const dir = join(here, 'results');
const base = outArg ? resolve(outArg) : join(dir, quick ? 'quick' : complete ? 'latest' : 'partial');
mkdirSync(dirname(base), { recursive: true });
writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`${base}.md`, `${md.join('\n')}\n`);
writeFileSync(`${base}.svg`, renderChart(report));
console.log(md.join('\n'));
console.error(`\nwrote ${base}.{json,md,svg} in ${report.seconds.toFixed(0)} s`);
if (!quick && complete && !outArg && !args.includes('--no-readme')) {
  if (failed) console.error(`README.md left alone: ${failed} suite(s) failed`);
  else console.error(`updated ${updateReadme(`${base}.json`)}`);
}
process.exit(failed ? 1 : 0);
