// examples/: every program there runs (as a user would run it, importing the
// built package by its name) and prints what its `// Prints:` comment says;
// every JavaScript block of README.md and docs/*.md is an excerpt of one of them.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeBlocks, excerptOf, expectedOutput, isSubsequence } from './helpers-docs';

const root = join(__dirname, '..');
const examplesDir = join(root, 'examples');
const examples = readdirSync(examplesDir).filter((f) => /\.(mjs|cjs|js)$/.test(f)).sort();
const docFiles = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('examples/', () => {
  it('holds the programs the README shows', () => {
    for (const f of ['quickstart.mjs', 'http-arena.mjs', 'pool-records.mjs', 'workers-shared-pool.mjs']) {
      expect(examples).toContain(f);
    }
  });

  it.each(examples)('%s runs and prints what it says it prints', (file) => {
    const text = readFileSync(join(examplesDir, file), 'utf8');
    const expected = expectedOutput(text);
    expect(expected, `${file} has no "// Prints:" comment block`).not.toEqual([]);
    const r = spawnSync(process.execPath, [join(examplesDir, file)], {
      cwd: examplesDir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, OFFHEAP_DEBUG: '', OFFHEAP_BACKING: '' }, // the examples print what the default (external) backing does
    });
    expect(r.status, `${file} exited with ${r.status} (${r.signal ?? 'no signal'}):\n${r.stderr}`).toBe(0);
    const lines = r.stdout.split('\n').map((l) => l.trimEnd());
    expect(isSubsequence(expected, lines), `${file} printed:\n${r.stdout}\nexpected, in order:\n${expected.join('\n')}`).toBe(true);
  }, 180_000);
});

describe('code blocks of README.md and docs/', () => {
  const sources = examples.map((f) => ({ file: `examples/${f}`, text: readFileSync(join(examplesDir, f), 'utf8') }));
  const blocks = docFiles.filter((f) => existsSync(join(root, f)))
    .flatMap((f) => codeBlocks(readFileSync(join(root, f), 'utf8')).map((b) => ({ ...b, doc: f })));

  it('the README has JavaScript blocks to check', () => {
    expect(blocks.filter((b) => b.doc === 'README.md').length).toBeGreaterThanOrEqual(3);
  });

  // Pages whose blocks are not yet quoted from an example. Listed by name so
  // that the gap shows; the test below fails once a listed page is clean, so
  // the entry cannot outlive its reason.
  const isOrphan = (b: { code: string }): boolean => !sources.some((s) => excerptOf(b.code, s.text));

  it('every JavaScript block is an excerpt of a program in examples/ (so the tests run it)', () => {
    const orphans = blocks.filter((b) => isOrphan(b))
      .map((b) => `${b.doc}:${b.line}\n${b.code}`);
    expect(orphans, 'blocks that are not excerpts of any example').toEqual([]);
  });
});

describe('the excerpt check', () => {
  it('accepts lines in order with elisions, rejects a changed, missing or reordered line', () => {
    const source = 'const a = 1;\nconst b = 2;  // two\n\nconsole.log(a + b);\n';
    expect(excerptOf('const a = 1;\n// ...\nconsole.log(a + b);', source)).toBe(true);
    expect(excerptOf('  const b = 2;  // two', source)).toBe(true);
    expect(excerptOf('const a = 2;', source)).toBe(false);
    expect(excerptOf('console.log(a + b);\nconst a = 1;', source)).toBe(false);
    expect(excerptOf('', source)).toBe(false);
  });

  it('finds the JavaScript blocks of a Markdown text, with their line', () => {
    const md = 'x\n```js\nlet a;\n```\n```sh\nnpm test\n```\n```ts\nlet b: number;\n```\n';
    expect(codeBlocks(md)).toEqual([{ line: 3, code: 'let a;' }, { line: 9, code: 'let b: number;' }]);
  });

  it('reads the expected output of an example', () => {
    expect(expectedOutput('x();\n// Prints:\n// a 1\n// b\n')).toEqual(['a 1', 'b']);
    expect(expectedOutput('x();\n')).toEqual([]);
    expect(isSubsequence(['a', 'c'], ['a', 'b', 'c'])).toBe(true);
    expect(isSubsequence(['c', 'a'], ['a', 'b', 'c'])).toBe(false);
  });
});
