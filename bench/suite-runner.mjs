// Runs one suite (bench/suites/<name>.mjs) and writes its result as JSON.
// A suite's default export is async (ctx) => ({ groups: [compare(...) results], notes?: [] }).
import { writeFileSync } from 'node:fs';
import { QUICK } from './harness.mjs';

const [name, out] = process.argv.slice(2);
const mod = await import(`./suites/${name}.mjs`);
const result = await mod.default({ quick: QUICK });
writeFileSync(out, JSON.stringify(result));
