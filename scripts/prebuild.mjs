// npm run prebuild: rebuilds prebuilds/<platform>-<arch>/ with prebuildify
// (one N-API binary, stripped) for linux-x64 and linux-arm64, against this
// Node's own headers (N-API headers are the same for every architecture), and
// records the native sources' hash of each build in prebuilds/SOURCE_HASH.
//
//   node scripts/prebuild.mjs              both targets
//   node scripts/prebuild.mjs arm64        one target (the others keep their line)
//
// linux-arm64 is cross-compiled with Debian's g++-aarch64-linux-gnu
// (apt-get install g++-aarch64-linux-gnu). The host's own target is built
// last, so build/Release is left holding a binary this Node can load.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch as hostArch } from 'node:os';
import { dirname, join } from 'node:path';
import { nativeSourceHash, readSourceHashes, root, writeSourceHashes } from './native-hash.mjs';

/** Every prebuilt target; `tools` are the compilers a cross build needs. */
const TARGETS = {
  x64: { tools: { CC: 'x86_64-linux-gnu-gcc', CXX: 'x86_64-linux-gnu-g++', STRIP: 'x86_64-linux-gnu-strip' } },
  arm64: { tools: { CC: 'aarch64-linux-gnu-gcc', CXX: 'aarch64-linux-gnu-g++', STRIP: 'aarch64-linux-gnu-strip' } },
};

const wanted = process.argv.slice(2);
for (const a of wanted) {
  if (!(a in TARGETS)) {
    console.error(`prebuild: unknown target '${a}' (known: ${Object.keys(TARGETS).join(', ')})`);
    process.exit(1);
  }
}
const archs = (wanted.length ? wanted : Object.keys(TARGETS)).sort((a, b) => (a === hostArch()) - (b === hostArch()));

// Build against the headers installed with this Node (no download).
const nodedir = process.env.npm_config_nodedir || dirname(dirname(process.execPath));
if (!existsSync(join(nodedir, 'include/node/node_api.h'))) {
  console.error(`prebuild: no Node headers under ${nodedir}; set npm_config_nodedir`);
  process.exit(1);
}

function onPath(tool) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

const hash = nativeSourceHash();
const hashes = readSourceHashes();
const bin = join(root, 'node_modules/.bin/prebuildify');
for (const a of archs) {
  const env = { ...process.env, npm_config_nodedir: nodedir };
  let stripBin = 'strip';
  if (a !== hostArch()) {
    const { tools } = TARGETS[a];
    const missing = Object.values(tools).filter((t) => !onPath(t));
    if (missing.length) {
      console.error(`prebuild: linux-${a} needs ${missing.join(', ')} (Debian: apt-get install g++-aarch64-linux-gnu)`);
      process.exit(1);
    }
    Object.assign(env, { CC: tools.CC, CXX: tools.CXX, LINK: tools.CXX });
    stripBin = tools.STRIP;
  }
  console.log(`prebuild: linux-${a}`);
  execFileSync(bin, ['--napi', '--strip', '--strip-bin', stripBin, '--arch', a, '--target', `node@${process.versions.node}`], {
    cwd: root,
    stdio: 'inherit',
    env,
  });
  hashes[`linux-${a}`] = hash;
  writeSourceHashes(hashes);
}
console.log(`prebuilds/SOURCE_HASH ${hash} (${archs.map((a) => `linux-${a}`).join(', ')})`);
