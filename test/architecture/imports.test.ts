// The import parser of the architecture test (imports.ts): statements, dynamic imports, type-only forms and thread
// entry modules are found with their lines; imports shown in comments, strings, template literals or regular
// expressions are not.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImports } from './imports.ts';

const parsed = (src: string) => parseImports(src).map((r) => `${r.line} ${r.kind}${r.typeOnly ? ' type' : ''} ${r.specifier ?? '<computed>'}`);

test('finds static, type-only, re-export, side-effect, dynamic and worker imports', () => {
  const src = [
    "import a from './a.ts';", // 1
    "import type { B } from '../b.ts';", // 2
    'import {', // 3
    '  c,', // 4
    "} from 'node:fs';", // 5
    "import { type D, type E } from './de.ts';", // 6
    "import { type F, g } from './fg.ts';", // 7
    "export * from './all.ts';", // 8
    "export type { H } from './h.ts';", // 9
    "import './side.ts';", // 10
    "const m = await import('./lazy.ts');", // 11
    "type T = typeof import('./t.ts');", // 12
    "let x: import('./u.ts').U;", // 13
    'const y = await import(join(dir, name));', // 14
    "new Worker(new URL('./thread.ts', import.meta.url));", // 15
    "import pg = require('pg');", // 16
  ].join('\n');
  assert.deepEqual(parsed(src), [
    '1 static ./a.ts', '2 static type ../b.ts', '3 static node:fs', '6 static type ./de.ts', '7 static ./fg.ts',
    '8 static ./all.ts', '9 static type ./h.ts', '10 static ./side.ts', '11 dynamic ./lazy.ts', '12 dynamic type ./t.ts',
    '13 dynamic type ./u.ts', '14 dynamic <computed>', '15 worker ./thread.ts', '16 static pg',
  ]);
});

test('ignores imports in comments, strings, template literals and regular expressions', () => {
  const src = [
    "// import x from './comment.ts';",
    "/* import('./block.ts') */",
    "const s = \"import y from './string.ts'\";",
    'const t = `',
    "import z from './template.ts';",
    "${'a'} import('./template2.ts')`;",
    "const r = /import q from '.\\/regex.ts'/;",
    "const d = 4 / 2; import real from './real.ts';",
  ].join('\n');
  assert.deepEqual(parsed(src), ['8 static ./real.ts']);
});
