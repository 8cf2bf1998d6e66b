#!/usr/bin/env node
// Entry point of the `vigil` binary: runs the TypeScript CLI directly (Node 24 strips types). The Node version is
// checked here, before any TypeScript is loaded, instead of through package.json `engines`: npm checks `engines`
// against the Node that runs npm itself (the system's, often older), not the pinned Node 24 of node_modules/.bin
// that `npx vigil` and the npm scripts run on, so `engines` only printed a false EBADENGINE warning.
const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
if (major !== REQUIRED_MAJOR) {
  console.error(`vigil: needs Node.js ${REQUIRED_MAJOR}, this is ${process.version} (${process.execPath}).\n`
    + 'Run it as `npx vigil …` from the Vigil directory after `bash scripts/install.sh` (or `npm install`):\n'
    + `the project pins Node.js ${REQUIRED_MAJOR} in node_modules/.bin/node, which npx puts first in PATH.`);
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    console.error(`vigil: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
