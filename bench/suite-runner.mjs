// Runs one suite (bench/suites/<name>.mjs) and writes its result as JSON.
// A suite's default export is async (ctx) => ({ groups: [compare(...) results],
// notes?: [], summary?: [tables] }). A suite that throws writes { error } and
// exits 1, so the report says what failed and still has every other suite.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { QUICK, suitesDir } from './harness.mjs';

const [name, out] = process.argv.slice(2);
try {
  const mod = await import(pathToFileURL(join(suitesDir(), `${name}.mjs`)).href);
  const result = await mod.default({ quick: QUICK });
  writeFileSync(out, JSON.stringify(result ?? {}));
} catch (e) {
  console.error(e);
  writeFileSync(out, JSON.stringify({ error: String(e?.message ?? e).split('\n')[0] || 'threw' }));
  process.exitCode = 1;
}
