// The record types, checked by the compiler: tsc --noEmit in strict mode over
// test/types/records.ts (exact field types, and @ts-expect-error on every
// misuse, so inference that degrades to `any` fails the build), plus a copy
// with one wrong line that must fail, proving the fixture is compiled at all.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

function compile(project: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [tsc, '-p', project], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('record types (tsc --strict)', () => {
  it('infers number, bigint, string, boolean, typed arrays and nested cursors from the spec; unknown fields do not compile', () => {
    const r = compile('test/types/tsconfig.json');
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it('a wrong expectation in the same fixture fails to compile (the check is live)', () => {
    const dir = mkdtempSync(join(root, 'test/types/tmp-'));
    try {
      const src = readFileSync(join(root, 'test/types/records.ts'), 'utf8').replaceAll("'../../lib/index'", "'../../../lib/index'");
      writeFileSync(join(dir, 'records.ts'), `${src}\ncheck<Equal<typeof p.x, string>>(true);\nconst n: string = p.big;\n`);
      writeFileSync(join(dir, 'tsconfig.json'), readFileSync(join(root, 'test/types/tsconfig.json')));
      const r = compile(join(dir, 'tsconfig.json'));
      expect(r.status).not.toBe(0);
      expect(r.out).toMatch(/records\.ts\(\d+,\d+\): error TS2344/);
      expect(r.out).toMatch(/error TS2322: Type 'bigint' is not assignable to type 'string'/);
      expect(r.out.match(/error TS/g)).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
