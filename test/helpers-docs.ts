// Helpers of test/examples.test.ts: code blocks of Markdown, excerpts of
// examples, and the `// Prints:` block that says what an example prints.

/** The ```js / ```ts (also javascript, mjs, cjs, typescript) blocks of a Markdown text, with the line each starts on. */
export function codeBlocks(markdown: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```\s*(\w+)/.exec(lines[i]!);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++;
    if (/^(js|javascript|mjs|cjs|ts|typescript)$/i.test(open[1]!)) out.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return out;
}

const ELISION = /^(\/\/\s*)?(\.\.\.|…)$/;

/**
 * True when every non-blank line of `block` (trimmed; a `// ...` line skips
 * any number of lines) is a line of `source`, in the same order.
 */
export function excerptOf(block: string, source: string): boolean {
  const wanted = block.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !ELISION.test(l));
  if (wanted.length === 0) return false;
  const have = source.split('\n').map((l) => l.trim());
  return isSubsequence(wanted, have);
}

/** True when `wanted` appears in `have` in order (not necessarily adjacent). */
export function isSubsequence(wanted: readonly string[], have: readonly string[]): boolean {
  let j = 0;
  for (const line of have) if (j < wanted.length && line === wanted[j]) j++;
  return j === wanted.length;
}

/** The lines of the `// Prints:` comment block at the end of an example (without `// `). */
export function expectedOutput(source: string): string[] {
  const lines = source.split('\n');
  const at = lines.findIndex((l) => l.trim() === '// Prints:');
  if (at < 0) return [];
  const out: string[] = [];
  for (let i = at + 1; i < lines.length && lines[i]!.startsWith('//'); i++) out.push(lines[i]!.replace(/^\/\/ ?/, ''));
  return out;
}
