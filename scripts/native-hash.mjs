// The hash of everything that goes into the native addon: binding.gyp and the
// sources under native/core and native/binding. Recorded for each prebuilt
// platform in prebuilds/SOURCE_HASH (one `<platform>-<arch> <hash>` line each);
// a test fails when a platform's line differs from the sources.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function nativeSourceFiles() {
  const files = ['binding.gyp'];
  for (const dir of ['native/core', 'native/binding']) {
    for (const f of readdirSync(join(root, dir)).sort()) {
      if (/\.(cc|h|hpp|cpp)$/.test(f)) files.push(`${dir}/${f}`);
    }
  }
  return files;
}

export function nativeSourceHash() {
  const hash = createHash('sha256');
  for (const f of nativeSourceFiles()) {
    hash.update(`${f}\0`);
    hash.update(readFileSync(join(root, f)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

export const sourceHashFile = join(root, 'prebuilds/SOURCE_HASH');

/** { 'linux-x64': hash, ... } as recorded by the last prebuild of each platform. */
export function readSourceHashes() {
  const out = {};
  if (!existsSync(sourceHashFile)) return out;
  for (const line of readFileSync(sourceHashFile, 'utf8').split('\n')) {
    const m = /^(\S+-\S+)\s+([0-9a-f]{64})$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

export function writeSourceHashes(hashes) {
  const lines = Object.keys(hashes).sort().map((p) => `${p} ${hashes[p]}`);
  writeFileSync(sourceHashFile, `${lines.join('\n')}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(nativeSourceHash());
