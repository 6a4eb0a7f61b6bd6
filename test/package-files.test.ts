// What `npm pack` ships: what a user needs to load offheap (or compile it
// where no prebuild fits) and read about it, and nothing of the repository's
// tests, benchmarks, sources of the TypeScript build or docs site.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');

describe('package files', () => {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }));
  const files: string[] = packed[0].files.map((f: { path: string }) => f.path);

  it('ship the built package, its types, the prebuild, the native sources and the docs a user reads on npm', () => {
    for (const f of ['dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/index.d.mts',
      'prebuilds/linux-x64/offheap.node', 'binding.gyp', 'native/binding/addon.cc', 'native/core/arena.cc',
      'README.md', 'LICENSE', 'CHANGELOG.md', 'package.json']) {
      expect(files).toContain(f);
    }
  });

  it('leave out tests, benchmarks, examples, docs, the TypeScript sources, source maps and scripts', () => {
    const extra = files.filter((f) => /^(test|bench|examples|docs|lib|scripts|native\/test|native\/bench|node_modules|build|\.ci)\//.test(f) || f.endsWith('.map'));
    expect(extra).toEqual([]);
  });
});
