// The API reference: every public export of each package entry point (and every public
// member of the classes and interfaces it exports) carries a doc comment, and
// docs/api/ is what `npm run docs` builds from them, without a warning.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');

/** "name" or "Class.member" for every public export (and member) of `entry` without a doc comment. */
function undocumented(program: ts.Program, entry: string): string[] {
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(entry);
  if (!file) throw new Error(`${entry} is not in the program`);
  const moduleSymbol = checker.getSymbolAtLocation(file);
  if (!moduleSymbol) throw new Error(`${entry} has no exports`);
  const missing: string[] = [];
  const hasDoc = (s: ts.Symbol): boolean => s.getDocumentationComment(checker).length > 0;
  // Public: not private, protected, #private or @internal, and declared in this project (not
  // inherited from Error or another library type).
  const isPublic = (s: ts.Symbol): boolean => {
    const decl = s.valueDeclaration ?? s.declarations?.[0];
    if (!decl) return true;
    if (s.getJsDocTags(checker).some((t) => t.name === 'internal')) return false;
    const src = decl.getSourceFile();
    if (program.isSourceFileDefaultLibrary(src) || program.isSourceFileFromExternalLibrary(src)) return false;
    const flags = ts.getCombinedModifierFlags(decl as ts.Declaration);
    return (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0 &&
      !(decl.kind === ts.SyntaxKind.PropertyDeclaration && ts.isPrivateIdentifier((decl as ts.PropertyDeclaration).name));
  };
  const checkMembers = (owner: string, type: ts.Type): void => {
    for (const m of checker.getPropertiesOfType(type)) {
      if (m.name === 'prototype' || !isPublic(m)) continue;
      if (!hasDoc(m)) missing.push(`${owner}.${m.name}`);
    }
  };
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const s = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (!hasDoc(s)) missing.push(exported.name);
    if (s.flags & ts.SymbolFlags.Class) {
      const decl = s.valueDeclaration!;
      checkMembers(exported.name, checker.getDeclaredTypeOfSymbol(s));      // instance side
      checkMembers(exported.name, checker.getTypeOfSymbolAtLocation(s, decl)); // statics (attach)
    } else if (s.flags & ts.SymbolFlags.Interface) {
      checkMembers(exported.name, checker.getDeclaredTypeOfSymbol(s));
    }
  }
  return missing;
}

function libProgram(rootNames: string[]): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  if (!config) throw new Error('tsconfig.json did not parse');
  return ts.createProgram({ rootNames, options: { ...config.options, noEmit: true } });
}

/** A program over files written to a temporary directory, for checking the checker itself. */
function fixtureProgram(dir: string, files: Record<string, string>): ts.Program {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const options: ts.CompilerOptions = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, noEmit: true, types: [] };
  return ts.createProgram({ rootNames: Object.keys(files).map((f) => join(dir, f)), options });
}

describe('doc comments', () => {
  it('finds an undocumented export, class member and interface field (so the check below can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'offheap-doc-fixture-'));
    const program = fixtureProgram(dir, {
      'a.ts': `
/** Documented. */
export class Good extends Error {
  /** Yes. */
  run(): void {}
  private secret_ = 1;
  /** @internal */
  hook_(): void {}
}
export class Bad {
  /** Yes. */
  run(): void {}
  size = 1;
  static open(): Bad { return new Bad(); }
}
/** Documented. */
export interface Opts {
  /** Yes. */
  a: number;
  b?: string;
}
export function loose(): void {}
`,
      'index.ts': "export { Good, Bad, type Opts, loose as renamed } from './a';",
    });
    const found = undocumented(program, join(dir, 'index.ts'));
    rmSync(dir, { recursive: true, force: true });
    expect(found.sort()).toEqual(['Bad', 'Bad.open', 'Bad.size', 'Opts.b', 'renamed'].sort());
  });

  // One entry per subpath of package.json "exports" ('.' is lib/index.ts, './fastify' lib/fastify.ts, ...).
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const entries = Object.keys(pkg.exports).filter((k) => k !== './package.json')
    .map((k) => `lib/${k === '.' ? 'index' : k.slice(2)}.ts`);

  it('typedoc.json documents every entry point of the package', () => {
    const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8'));
    expect([...config.entryPoints].sort()).toEqual([...entries].sort());
  });

  it.each(entries)('every public export of %s and every public member of its classes and interfaces has one', (entry) => {
    const program = libProgram(entries.map((e) => join(root, e)));
    expect(undocumented(program, join(root, entry))).toEqual([]);
  });
});

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out.sort();
}

describe('npm run docs', () => {
  it('builds the API reference without a warning, and docs/api/ is what it builds', () => {
    const out = mkdtempSync(join(tmpdir(), 'offheap-docs-'));
    try {
      const r = spawnSync(process.execPath, [join(root, 'node_modules/typedoc/bin/typedoc'), '--out', out], {
        cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      });
      const log = `${r.stdout}${r.stderr}`;
      expect(log).not.toMatch(/\[(warning|error)\]/);
      expect(r.status, log).toBe(0);
      const built = listFiles(out).map((f) => relative(out, f));
      const committed = listFiles(join(root, 'docs/api')).map((f) => relative(join(root, 'docs/api'), f));
      expect(committed, 'docs/api/ is stale: run `npm run docs` and commit it').toEqual(built);
      for (const f of built) {
        expect(readFileSync(join(root, 'docs/api', f), 'utf8'), `docs/api/${f} is stale: run \`npm run docs\``)
          .toBe(readFileSync(join(out, f), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 240_000);
});
