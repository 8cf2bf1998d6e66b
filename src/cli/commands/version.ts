// `vigil version`: prints the Vigil and Node.js versions.
import { readFileSync } from 'node:fs';

export const summary = 'print the Vigil version';

export async function run(): Promise<number> {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  console.log(`vigil ${pkg.version} (node ${process.version})`);
  return 0;
}
