// The `vigil` command: dispatches `vigil <command> …` to src/cli/commands/<command>.ts.
// Every command module exports `summary` (one line for help) and `run(args) → exit code`.

import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { reexecUpUnderItsFlags } from './node-flags.ts';

export interface Command {
  summary: string;
  run(args: string[]): Promise<number>;
}

const commandsDir = join(fileURLToPath(new URL('.', import.meta.url)), 'commands');

function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function load(name: string): Promise<Command> {
  return (await import(join(commandsDir, `${name}.ts`))) as Command;
}

async function help(): Promise<void> {
  const lines = ['usage: vigil <command> [options]', '', 'commands:'];
  for (const name of commandNames()) lines.push(`  ${name.padEnd(10)} ${(await load(name)).summary}`);
  lines.push('', 'vigil <command> --help shows a command\'s options.');
  console.log(lines.join('\n'));
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await help();
    return name ? 0 : 2;
  }
  if (!commandNames().includes(name)) {
    console.error(`vigil: unknown command '${name}' (vigil --help lists them)`);
    return 2;
  }
  if (name === 'up') reexecUpUnderItsFlags(); // before the server's modules load: V8 sizes its heap at start
  return (await load(name)).run(rest);
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      console.error(`vigil: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
