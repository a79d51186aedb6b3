/**
 * npm driver packages: test/fixtures/npm/moor-driver-sample packed with `npm pack` and installed (offline,
 * from the tarball) into a store's plugins folder and into a temporary global prefix; moor finds it, shows
 * its flags, creates, lists, inspects and removes a machine with it, and `moor drivers` lists it with the
 * Docker Machine plugins found. A package that exports something else is a clear error.
 */
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertExit, parseJson, ROOT, run, TempStore } from './helpers.js';

const FIXTURE = join(ROOT, 'test', 'fixtures', 'npm', 'moor-driver-sample');
// Loopback, refused: the sample driver never connects; ls just reports the engine unreachable.
const URL = 'tcp://127.0.0.1:9';

describe('npm driver packages', () => {
  let dir: string;
  let tarball: string;
  let store: TempStore;
  let prefixStore: TempStore;
  let prefix: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moor-npm-driver-'));
    const packed = await run('npm', ['pack', FIXTURE, '--pack-destination', dir, '--silent'], { cwd: dir });
    assertExit(packed, 0, 'npm pack');
    tarball = join(dir, packed.stdout.trim().split('\n').pop()!);
    store = await TempStore.create();
    const install = ['--offline', '--no-audit', '--no-fund', '--silent', tarball];
    assertExit(
      await run('npm', ['install', '--prefix', store.path('plugins'), ...install], { cwd: dir }),
      0,
      'npm install',
    );
    prefixStore = await TempStore.create();
    prefix = join(dir, 'prefix');
    assertExit(await run('npm', ['install', '-g', '--prefix', prefix, ...install], { cwd: dir }), 0, 'npm install -g');
  });
  after(async () => {
    await store?.cleanup();
    await prefixStore?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('create -d sample --help shows the package’s flags', async () => {
    const result = await store.moor(['create', '-d', 'sample', '--help']);
    assertExit(result, 0);
    assert.match(result.stdout, /SAMPLE DRIVER FLAGS/);
    assert.match(result.stdout, /--sample-url=<value>\s+URL of the Docker engine.*\(required\)\s+\[env: SAMPLE_URL\]/s);
    assert.match(result.stdout, /--sample-label=none/);
  });

  it('a package in <store>/plugins/node_modules creates, lists, inspects and removes a machine', async () => {
    const created = await store.moor(['create', '-d', 'sample', '--sample-label', 'blue', 'npm-1'], {
      env: { SAMPLE_URL: URL },
    });
    assertExit(created, 0, 'create');
    assert.equal(created.stdout, 'Machine "npm-1" created (sample driver).\n');
    assert.match(created.stderr, /\(npm-1\) sample driver: nothing to create/);
    assert.equal(await readFile(join(store.machineDir('npm-1'), 'sample.txt'), 'utf8'), 'blue\n');
    const record = JSON.parse(await readFile(join(store.machineDir('npm-1'), 'config.json'), 'utf8')) as {
      DriverName: string;
      Driver: unknown;
    };
    assert.equal(record.DriverName, 'sample');
    assert.deepEqual(record.Driver, { URL, Label: 'blue' });
    const ls = await store.moor(['ls', '--format', '{{.Name}} {{.DriverName}} {{.State}} {{.URL}}']);
    assertExit(ls, 0, 'ls');
    assert.equal(ls.stdout, `npm-1 sample Running ${URL}\n`);
    assertExit(await store.moor(['rm', '-y', 'npm-1']), 0, 'rm');
    assertExit(await store.moor(['ls', '-q']), 0);
  });

  it('the package’s own checks run: a bad URL is refused by its pre-create check as a usage error (exit 2), nothing stored', async () => {
    const result = await store.moor(['create', '-d', 'sample', '--sample-url', 'http://x', 'npm-bad']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--sample-url must look like tcp:\/\/HOST:PORT; got "http:\/\/x"/);
    assertExit(await store.moor(['inspect', 'npm-bad']), 1, 'inspect of a machine never created');
  });

  it('a package installed with npm install -g in the prefix moor is told of (NPM_CONFIG_PREFIX) works too', async () => {
    const env = { NPM_CONFIG_PREFIX: prefix };
    const created = await prefixStore.moor(['create', '-d', 'sample', '--sample-url', URL, 'npm-g'], { env });
    assertExit(created, 0, 'create');
    const drivers = parseJson<{ name: string; kind: string; path: string }[]>(
      await prefixStore.moor(['drivers', '--json'], { env }),
    );
    assert.deepEqual(
      drivers.find((driver) => driver.name === 'sample'),
      { name: 'sample', kind: 'npm', path: join(prefix, 'lib', 'node_modules', 'moor-driver-sample') },
    );
  });

  it('moor drivers lists built-in, npm and plugin drivers with where each was found', async () => {
    const bin = join(dir, 'bin');
    await mkdir(bin, { recursive: true });
    const plugin = join(bin, 'docker-machine-driver-listed');
    await writeFile(plugin, '#!/bin/sh\nexit 1\n');
    await chmod(plugin, 0o755);
    await copyFile(plugin, join(bin, 'docker-machine-driver-generic')); // a built-in name: not listed again
    await chmod(join(bin, 'docker-machine-driver-generic'), 0o755);
    const result = await store.moor(['drivers'], { env: { PATH: `${bin}:${process.env['PATH']}` } });
    assertExit(result, 0, 'drivers');
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+KIND\s+WHERE$/);
    const rows = lines.slice(1).map((line) => line.split(/\s+/));
    assert.deepEqual(
      rows.map((row) => row.slice(0, 2)),
      [
        ['none', 'built-in'],
        ['generic', 'built-in'],
        ['amazonec2', 'built-in'],
        ['virtualbox', 'built-in'],
        ['qemu', 'built-in'],
        ['sample', 'npm'],
        ['listed', 'plugin'],
      ],
    );
    assert.equal(rows[5]![2], store.path('plugins', 'node_modules', 'moor-driver-sample'));
    assert.equal(rows[6]![2], plugin);
  });

  it('a package whose default export is not a driver definition is a clear error', async () => {
    const bad = store.path('plugins', 'node_modules', 'moor-driver-broken');
    await mkdir(bad, { recursive: true });
    await writeFile(
      join(bad, 'package.json'),
      JSON.stringify({ name: 'moor-driver-broken', type: 'module', main: 'index.js' }),
    );
    await writeFile(join(bad, 'index.js'), 'export default { name: "broken" };\n');
    const result = await store.moor(['create', '-d', 'broken', 'x']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /The driver package .*moor-driver-broken does not export a driver definition/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });
});
