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
  // Its first lines: "records cursor failed:" alone would not say why.
  const lines = String(e?.message ?? e).split('\n').map((l) => l.trim()).filter(Boolean);
  writeFileSync(out, JSON.stringify({ error: lines.slice(0, 3).join(' / ').slice(0, 400) || 'threw' }));
  process.exitCode = 1;
}
