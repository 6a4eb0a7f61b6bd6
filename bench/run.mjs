// npm run bench [-- --quick] [-- suite-name ...]: runs every suite under
// bench/suites in its own child process (so one suite's garbage and JIT state
// never bleed into the next), then writes bench/results/latest.{json,md}.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { toMarkdown } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const suites = readdirSync(join(here, 'suites'))
  .filter((f) => f.endsWith('.mjs'))
  .map((f) => f.replace(/\.mjs$/, ''))
  .filter((s) => wanted.length === 0 || wanted.includes(s))
  .sort();

const tmp = join(here, 'results/tmp');
mkdirSync(tmp, { recursive: true });
const report = {
  date: new Date().toISOString(),
  command: `npm run bench${quick ? ' -- --quick' : ''}`,
  machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}` },
  quick,
  suites: [],
};
let failed = 0;
for (const name of suites) {
  console.error(`\n== ${name}`);
  const out = join(tmp, `${name}.json`);
  rmSync(out, { force: true });
  const child = spawnSync(process.execPath, ['--expose-gc', join(here, 'suite-runner.mjs'), name, out, ...(quick ? ['--quick'] : [])], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (child.status !== 0) {
    failed++;
    report.suites.push({ name, error: `exited with ${child.status ?? child.signal}` });
    continue;
  }
  report.suites.push({ name, ...JSON.parse(readFileSync(out, 'utf8')) });
}

const md = [`# offheap benchmarks`, '', `${report.date}, ${report.machine.cpu} (${report.machine.cores} cores), Node ${report.machine.node}, \`${report.command}\``, ''];
for (const s of report.suites) {
  md.push(`## ${s.name}`, '');
  if (s.error) md.push(`**failed**: ${s.error}`, '');
  for (const g of s.groups ?? []) md.push(toMarkdown(g));
  for (const line of s.notes ?? []) md.push(line, '');
}
const dir = join(here, 'results');
const base = quick ? 'quick' : 'latest';
writeFileSync(join(dir, `${base}.json`), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(dir, `${base}.md`), `${md.join('\n')}\n`);
console.log(md.join('\n'));
console.error(`\nwrote bench/results/${base}.json and ${base}.md`);
process.exit(failed ? 1 : 0);
