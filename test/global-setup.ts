// Builds dist/ once, before any test file runs (vitest globalSetup), for
// `npm test` and for vitest run directly alike. Child-process suites and
// workers load the built package; a build while they run lets one of them
// read a half-written module (`register is not a function`), so no test may
// rebuild dist/. The build's file times go to build/dist-stamps.json, which
// scripts/test.mjs checks after the run (a changed file is a failure).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every file under dir with its modification time. */
function stamps(dir: string, out = new Map<string, number>()): Map<string, number> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) stamps(p, out);
    else if (e.isFile()) out.set(p, statSync(p).mtimeMs);
  }
  return out;
}

export default function setup(): void {
  // package.json's build:ts, the one definition of how dist/ is built.
  execFileSync('npm', ['run', '--silent', 'build:ts'], { cwd: root, stdio: 'inherit' });
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(join(root, 'build/dist-stamps.json'), JSON.stringify(Object.fromEntries(stamps(join(root, 'dist')))));
}
