// npm run prebuild: rebuilds prebuilds/<platform>-<arch>/ with prebuildify
// (one N-API binary, stripped) against this Node's own headers, and records
// the native sources' hash with it (prebuilds/SOURCE_HASH).
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nativeSourceHash, root } from './native-hash.mjs';

// Build against the headers installed with this Node (no download).
const nodedir = process.env.npm_config_nodedir || dirname(dirname(process.execPath));
if (!existsSync(join(nodedir, 'include/node/node_api.h'))) {
  console.error(`prebuild: no Node headers under ${nodedir}; set npm_config_nodedir`);
  process.exit(1);
}
const bin = join(root, 'node_modules/.bin/prebuildify');
execFileSync(bin, ['--napi', '--strip', '--target', `node@${process.versions.node}`], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, npm_config_nodedir: nodedir },
});
const hash = nativeSourceHash();
writeFileSync(join(root, 'prebuilds/SOURCE_HASH'), `${hash}\n`);
console.log(`prebuilds/SOURCE_HASH ${hash}`);
