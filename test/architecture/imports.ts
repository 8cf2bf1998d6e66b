// Every import of a TypeScript source file, found by a small lexer: comments and the text of template literals are
// blanked (so an import shown in a comment or generated into a string is not counted), string and regular-expression
// literals are skipped as units, and then the statements are read off the masked text:
//   import … from '…'   import '…'   export … from '…'   import('…')   import x = require('…')
//   new Worker(new URL('./x.ts', import.meta.url))  (a thread's entry module is a dependency too)
// `typeOnly` is true for `import type …`, `export type … from` and `import('…')` in a type position (`typeof
// import('…')`, `import('…').Name`), which the compiler erases. A computed specifier (`import(join(dir, name))`) is
// reported as `dynamic` with no specifier so that a rule can decide on it.
// TypeScript 7's compiler API is not stable (typescript/unstable/*), so this does not use it.

export interface ImportRef {
  specifier: string | null; // null: computed at run time
  line: number;
  typeOnly: boolean;
  kind: 'static' | 'dynamic' | 'worker';
}

const REGEX_PRECEDERS = new Set([
  '(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^',
  'return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'instanceof', 'yield', 'await',
]);

// The source with comments and template-literal text replaced by spaces (newlines kept, so offsets and line numbers
// hold), string literals left as they are.
export function maskSource(src: string): string {
  const out = src.split('');
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  let i = 0;
  let lastToken = ''; // last significant token: punctuation char, or a word
  const templateDepth: number[] = []; // brace depth at each open `${`
  let braces = 0;
  while (i < src.length) {
    const c = src[i];
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '\'' || c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      i = j + 1;
      lastToken = 'str';
      continue;
    }
    if (c === '`' || (c === '}' && templateDepth.length > 0 && templateDepth[templateDepth.length - 1] === braces)) {
      // template text up to the closing backtick or the next `${`
      if (c === '}') templateDepth.pop();
      let j = i + 1;
      while (j < src.length) {
        if (src[j] === '\\') { j += 2; continue; }
        if (src[j] === '`') break;
        if (src[j] === '$' && src[j + 1] === '{') break;
        j++;
      }
      blank(i + 1, j);
      if (src[j] === '$') {
        templateDepth.push(braces);
        i = j + 2;
        lastToken = '{';
      } else {
        i = j + 1;
        lastToken = 'str';
      }
      continue;
    }
    if (c === '/' && (lastToken === '' || REGEX_PRECEDERS.has(lastToken))) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n') {
        if (src[j] === '\\') { j += 2; continue; }
        if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        else if (src[j] === '/' && !inClass) break;
        j++;
      }
      blank(i, j + 1);
      i = j + 1;
      while (i < src.length && /[a-z]/i.test(src[i])) i++;
      lastToken = 'regex';
      continue;
    }
    if (/\s/.test(c)) { i++; continue; }
    if (/[A-Za-z_$0-9]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z_$0-9]/.test(src[j])) j++;
      lastToken = src.slice(i, j);
      i = j;
      continue;
    }
    if (c === '{') braces++;
    else if (c === '}') braces--;
    lastToken = c;
    i++;
  }
  return out.join('');
}

const STATIC = /(?:^|[;}\n])\s*(import|export)\s+(type\s+)?([^;'"`]*?\s+from\s*)?(['"])([^'"\n]+)\4/g;
const REQUIRE = /(?:^|[;}\n])\s*(?:export\s+)?import\s+(type\s+)?[A-Za-z_$][\w$]*\s*=\s*require\s*\(\s*(['"])([^'"\n]+)\2\s*\)/g;
const DYNAMIC = /(typeof\s+)?\bimport\s*\(\s*([^)]*?)\s*(?:,[^)]*)?\)(\s*\.\s*[A-Za-z_$])?/g;
const WORKER = /new\s+Worker\s*\(\s*new\s+URL\s*\(\s*(['"])([^'"\n]+\.tsx?)\1\s*,\s*import\.meta\.url\s*\)/g;

export function parseImports(src: string): ImportRef[] {
  const masked = maskSource(src);
  const lineAt = (offset: number): number => {
    let line = 1;
    for (let k = 0; k < offset; k++) if (masked.charCodeAt(k) === 10) line++;
    return line;
  };
  const found: { offset: number; ref: ImportRef }[] = [];
  for (const m of masked.matchAll(STATIC)) {
    const [, keyword, typeKw, clause, , specifier] = m;
    if (keyword === 'export' && clause === undefined) continue; // `export '…'` is not a statement
    if (clause !== undefined && !/^\s*(\*|\{|[A-Za-z_$])/.test(clause)) continue;
    // `import { type A, type B } from` is type-only too when every name is
    const allTypeNames = clause !== undefined && /^\s*\{([^}]*)\}\s*from\s*$/.test(clause)
      && clause.replace(/^\s*\{|\}\s*from\s*$/g, '').split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '));
    const start = m.index + m[0].indexOf(keyword);
    found.push({ offset: start, ref: { specifier, line: 0, typeOnly: typeKw !== undefined || allTypeNames, kind: 'static' } });
  }
  for (const m of masked.matchAll(REQUIRE)) {
    found.push({ offset: m.index + m[0].indexOf('import'), ref: { specifier: m[3], line: 0, typeOnly: m[1] !== undefined, kind: 'static' } });
  }
  for (const m of masked.matchAll(DYNAMIC)) {
    const arg = m[2];
    const literal = /^(['"])([^'"]+)\1$/.exec(arg);
    const offset = m.index + m[0].indexOf('import');
    if (found.some((f) => f.offset === offset)) continue;
    found.push({
      offset,
      ref: { specifier: literal ? literal[2] : null, line: 0, typeOnly: m[1] !== undefined || m[3] !== undefined, kind: 'dynamic' },
    });
  }
  for (const m of masked.matchAll(WORKER)) {
    found.push({ offset: m.index, ref: { specifier: m[2], line: 0, typeOnly: false, kind: 'worker' } });
  }
  found.sort((a, b) => a.offset - b.offset);
  return found.map(({ offset, ref }) => ({ ...ref, line: lineAt(offset) }));
}
