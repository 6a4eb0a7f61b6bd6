// The hash of everything that goes into the native addon: binding.gyp and the
// sources under native/core and native/binding. Recorded with the prebuild
// (prebuilds/SOURCE_HASH); a test fails when the two differ.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
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

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(nativeSourceHash());
