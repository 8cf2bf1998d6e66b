#!/usr/bin/env node
// Entry point of the `vigil` binary: runs the TypeScript CLI directly (Node 24 strips types).
import { main } from '../src/cli/main.ts';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error(`vigil: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
