// examples/records.mjs runs as a user runs it (importing the built package by
// name) and prints, in order, the lines of its `// Prints:` comment.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const file = join(__dirname, '../examples/records.mjs');

describe('examples/records.mjs', () => {
  it('runs and prints what its Prints comment says', () => {
    const text = readFileSync(file, 'utf8');
    const expected = text.slice(text.indexOf('// Prints:\n') + 11).split('\n').filter((l) => l.startsWith('// ')).map((l) => l.slice(3));
    expect(expected.length).toBeGreaterThan(5);
    const r = spawnSync(process.execPath, [file], { cwd: join(__dirname, '../examples'), encoding: 'utf8', timeout: 120_000, env: { ...process.env, OFFHEAP_DEBUG: '' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual(expected);
  });
});
