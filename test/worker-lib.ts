// Worker threads cannot load lib/*.ts (Node 20 does not strip types), so the
// worker suites transpile lib/ once per process into build/worker-lib-<pid>/
// with TypeScript's own transpiler. The output sits under the package root,
// so lib/native.ts finds binding.gyp and the same build/Release addon.
import ts from 'typescript';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
let compiled: string | undefined;

/** The folder holding lib/*.js for require() in workers (index.js is the entry). */
export function workerLib(): string {
  if (compiled) return compiled;
  const out = join(root, 'build', `worker-lib-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(join(root, 'lib')).filter((n) => n.endsWith('.ts'))) {
    const { outputText } = ts.transpileModule(readFileSync(join(root, 'lib', f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: f,
    });
    writeFileSync(join(out, f.replace(/\.ts$/, '.js')), outputText);
  }
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  compiled = out;
  return out;
}
