// What a newcomer gets from npm: a prebuild that matches the sources, and a
// packed tarball that installs without a compiler and works from require,
// import and strict TypeScript.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain .mjs helper without types
import { nativeSourceHash, readSourceHashes } from '../scripts/native-hash.mjs';

const root = join(__dirname, '..');

// Every platform the package claims (package.json os x cpu) has a prebuild.
const PLATFORMS: Record<string, number> = { 'linux-x64': 62, 'linux-arm64': 183 }; // ELF e_machine

describe('prebuilds', () => {
  // A prebuild built from other sources than the committed ones is stale.
  it.each(Object.keys(PLATFORMS))('%s was built from the current native sources', (platform) => {
    expect(readSourceHashes()[platform], `native sources changed: run \`npm run prebuild\` and commit prebuilds/`).toBe(nativeSourceHash());
  });

  it.each(Object.entries(PLATFORMS))('%s holds one binary for that machine', (platform, machine) => {
    const files = readdirSync(join(root, 'prebuilds', platform)).filter((f) => f.endsWith('.node'));
    expect(files).toHaveLength(1);
    const elf = readFileSync(join(root, 'prebuilds', platform, files[0]!));
    expect(elf.readUInt32BE(0)).toBe(0x7f454c46);
    expect(elf.readUInt16LE(18)).toBe(machine);
  });

  it('cover exactly what package.json os and cpu allow', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { os: string[]; cpu: string[] };
    const claimed = pkg.os.flatMap((os) => pkg.cpu.map((cpu) => `${os}-${cpu}`)).sort();
    expect(claimed).toEqual(Object.keys(PLATFORMS).sort());
  });
});

describe('npm pack', () => {
  // The tarball must install and load with no compiler on PATH.
  it('installs into an empty project without a compiler and loads from require, import and TS', () => {
    const work = mkdtempSync(join(tmpdir(), 'offheap-pack-'));
    try {
      // --ignore-scripts: `prepare` would rebuild dist/ in place under the other suites (the global setup built it).
      const tgz = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8' })
        .trim()
        .split('\n')
        .pop()!;
      // A PATH with node, npm and a shell, but no make, g++, cc or python.
      const bin = join(work, 'bin');
      mkdirSync(bin);
      for (const tool of ['node', 'sh', 'npm']) {
        const which = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
        symlinkSync(which, join(bin, tool));
      }
      const app = join(work, 'app');
      mkdirSync(app);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
      const env = { ...process.env, PATH: bin, npm_config_nodedir: '/nonexistent' };
      execFileSync(join(bin, 'npm'), ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, tgz)], {
        cwd: app, env, stdio: 'pipe',
      });
      expect(existsSync(join(app, 'node_modules/offheap/build'))).toBe(false); // nothing compiled

      const cjs = execFileSync(join(bin, 'node'), ['-e', `
        const o = require('offheap');
        const arena = new o.Arena({ maxBytes: 1 << 20 });
        const pool = new o.ObjectPool({ slotSize: 64, capacity: 16 });
        const slab = new o.SlabAllocator({ maxBytes: 1 << 22 });
        const b = arena.alloc(8); b.write('prebuilt');
        pool.freeHandle(pool.allocHandle());
        slab.free(slab.alloc(100));
        console.log(typeof o.OffheapError, b.toString(), o.stats().allocators, require.resolve('offheap'));
        for (const a of [arena, pool, slab]) a.destroy();
      `], { cwd: app, env, encoding: 'utf8' });
      expect(cjs).toMatch(/^function prebuilt 3 .*dist\/cjs\/index\.js/);

      const esm = execFileSync(join(bin, 'node'), ['--input-type=module', '-e', `
        import { OffheapError, stats, ObjectPool } from 'offheap';
        import cjs from 'offheap';
        import { createRequire } from 'node:module';
        const req = createRequire(import.meta.url);
        const pool = new ObjectPool({ slotSize: 32, capacity: 4 });
        // one instance: an allocator made through import is seen by require's stats()
        console.log(typeof OffheapError, OffheapError === req('offheap').OffheapError, stats === cjs.stats, req('offheap').stats().allocators);
        pool.destroy();
      `], { cwd: app, env, encoding: 'utf8' });
      expect(esm.trim()).toBe('function true true 1');

      // The fastify subpath loads without fastify installed (an optional peer) from require and import.
      const plugin = execFileSync(join(bin, 'node'), ['--input-type=module', '-e', `
        import offheapFastify, { offheapFastify as named } from 'offheap/fastify';
        import { createRequire } from 'node:module';
        const req = createRequire(import.meta.url);
        console.log(typeof offheapFastify, offheapFastify === named, req('offheap/fastify') === offheapFastify, req.resolve('offheap/fastify'));
      `], { cwd: app, env, encoding: 'utf8' });
      expect(plugin).toMatch(/^function true true .*dist\/cjs\/fastify\.js/);

      // A strict TypeScript consumer type-checks against both entry points.
      writeFileSync(join(app, 'main.ts'), `
        import { Arena, ObjectPool, SlabAllocator, OffheapError, stats, type AllocatorStats } from 'offheap';
        const s: AllocatorStats = stats();
        const e: OffheapError = new OffheapError('ERR_OFFHEAP_EXHAUSTED', 'x');
        using arena = new Arena({ maxBytes: 1 << 20 });
        const buf: Buffer = arena.alloc(16);
        const pool = new ObjectPool({ slotSize: 64, capacity: 8 });
        const h: number = pool.allocHandle();
        const slab = new SlabAllocator({ maxBytes: 1 << 22 });
        const u: number = slab.usableSize(slab.allocHandle(10));
        export const n: number = s.liveBytes + e.message.length + buf.length + h + u;
      `);
      writeFileSync(join(app, 'main.mts'), `
        import { OffheapError, ArenaScope, currentArena } from 'offheap';
        export const code: string = new OffheapError('ERR_OFFHEAP_DESTROYED', 'y').code;
        const scope = new ArenaScope({ maxBytes: 1 << 20 });
        export const len: Promise<number> = scope.run(async () => currentArena().alloc(4).length);
      `);
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'ES2022', types: ['node'], skipLibCheck: false, lib: ['ES2022', 'ESNext.Disposable'], typeRoots: [join(root, 'node_modules/@types')] },
        files: ['main.ts', 'main.mts'],
      }));
      const tsc = join(root, 'node_modules/typescript/bin/tsc');
      execFileSync(join(bin, 'node'), [tsc, '-p', app], { cwd: app, env, encoding: 'utf8' });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 180_000);
});

