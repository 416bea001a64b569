#!/usr/bin/env node
// scripts/test.mjs - the test runner behind `npm test` and `npm run test:unit`.
//
// Why this exists: Node 20's `node --test` has no glob support (globs arrived in Node 21),
// and given a directory it would run every .js file in it, helpers included. So we collect
// the compiled test files (dist/test/<suite>/**/*.test.js) ourselves, in a stable order, and
// hand them to `node --test` explicitly. It also makes an empty selection an error: a run
// that finds no tests must not pass silently.
//
// Usage: node scripts/test.mjs [suite...] [-- node-test-flags...]
//   suites: unit, integration, e2e (default: all three, in that order)
//   e.g.    node scripts/test.mjs unit -- --test-name-pattern=codec
// Env:    GOFER_TEST_DIST     directory holding the compiled suites (default: dist/test in the repo)
//         GOFER_TEST_TIMEOUT  --test-timeout in ms (default 60000; see the note below)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// Tests feed goferd hostile input on purpose; its warnings would bury the report. Set
// GOFER_LOG_LEVEL=info (or debug) to see them.
process.env.GOFER_LOG_LEVEL ??= 'error';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_SUITES = ['unit', 'integration', 'e2e'];
const TEST_FILE = /\.test\.[cm]?js$/;
const SOURCE_EXTS = ['.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs'];

const customDist = process.env.GOFER_TEST_DIST;
const distDir = customDist ? resolve(customDist) : join(ROOT, 'dist', 'test');

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const positional = dashdash === -1 ? argv : argv.slice(0, dashdash);
const passThrough = dashdash === -1 ? [] : argv.slice(dashdash + 1);
const suites = positional.length > 0 ? positional : DEFAULT_SUITES;

for (const suite of suites) {
  if (!/^[\w.-]+$/.test(suite)) {
    console.error(`test.mjs: bad suite name '${suite}' (expected e.g. ${DEFAULT_SUITES.join(', ')})`);
    process.exit(2);
  }
}

/** All test files under dir, recursively, sorted by path (stable run order across machines). */
function collect(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...collect(path));
    else if (entry.isFile() && TEST_FILE.test(entry.name)) found.push(path);
  }
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * tsc never deletes outputs, so a test whose .ts source was deleted or renamed would still run
 * from dist/. Only checked for the default layout (dist/test/X.test.js <- test/X.test.ts).
 */
function hasSource(file) {
  if (customDist) return true;
  const stem = join(ROOT, 'test', relative(distDir, file)).replace(/\.[cm]?js$/, '');
  return SOURCE_EXTS.some((ext) => existsSync(stem + ext));
}

const files = [];
for (const suite of suites) {
  const dir = join(distDir, suite);
  const inSuite = existsSync(dir) ? collect(dir) : [];
  const stale = inSuite.filter((f) => !hasSource(f));
  for (const f of stale) console.warn(`test.mjs: skipping ${relative(ROOT, f)}: its source no longer exists`);
  const live = inSuite.filter((f) => !stale.includes(f));
  console.log(`test.mjs: ${suite}: ${live.length} test file(s)`);
  files.push(...live);
}

if (files.length === 0) {
  console.error(
    `test.mjs: ERROR: no test files (*.test.js) for suite(s) ${suites.join(', ')} under ${distDir}.\n` +
      '  Did the TypeScript build run (tsc -p tsconfig.json)? A run without tests must not pass.',
  );
  process.exit(1);
}

// Use only the runner flags this Node version knows (they appeared during the 20.x line:
// --test-concurrency and --test-timeout are missing from early 20.x releases).
const help = spawnSync(process.execPath, ['--help'], { encoding: 'utf8' }).stdout ?? '';
const supports = (flag) => help.includes(flag);
const flags = ['--test'];
if (supports('--test-reporter')) flags.push('--test-reporter=spec');
// One file at a time: integration and e2e tests share one broker and must not interleave.
if (supports('--test-concurrency')) flags.push('--test-concurrency=1');
// A hung test (say, waiting for a reply that never comes) fails instead of stalling CI.
// Beware: on Node 20 each test file runs as a subtest of the runner, and it inherits this timeout
// too, so it also caps the total time of one test FILE (measured on 20.20). Keep files shorter,
// or raise it with GOFER_TEST_TIMEOUT (milliseconds).
const timeout = process.env.GOFER_TEST_TIMEOUT ?? '60000';
if (!/^\d+$/.test(timeout)) {
  console.error(`test.mjs: GOFER_TEST_TIMEOUT must be a number of milliseconds, not '${timeout}'`);
  process.exit(2);
}
if (supports('--test-timeout')) flags.push(`--test-timeout=${timeout}`);

const display = (f) => (f.startsWith(ROOT + sep) ? relative(ROOT, f) : f);
const args = [...flags, ...passThrough, ...files.map(display)];

const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit' });
// Pass a Ctrl-C or a CI cancellation on to the runner, then exit the way it does.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('error', (err) => {
  console.error(`test.mjs: cannot run ${process.execPath}: ${err.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    console.error(`test.mjs: node --test was killed by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
