/**
 * Finding drivers that are not built in (drivers/registry.ts): npm packages and plugin binaries, their
 * lookup order, names that cannot be drivers, discovery without starting anything; and libmachine's flag
 * types mapped to moor's driver flags and back (drivers/plugin/mcnflag.ts).
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as gob from '../../drivers/plugin/gob/index.js';
import { rpcFlagValues, toDriverFlags } from '../../drivers/plugin/mcnflag.js';
import { discoverDrivers, findDriver } from '../../drivers/registry.js';

async function executable(path: string): Promise<void> {
  await writeFile(path, '#!/bin/sh\nexit 1\n');
  await chmod(path, 0o755);
}

describe('driver lookup beyond the built-in drivers', () => {
  let dir: string;
  let store: string;
  let bin: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moor-registry-'));
    store = join(dir, 'store');
    bin = join(dir, 'bin');
    await mkdir(join(store, 'plugins', 'node_modules', 'moor-driver-both'), { recursive: true });
    await mkdir(bin);
    await writeFile(
      join(store, 'plugins', 'node_modules', 'moor-driver-both', 'package.json'),
      JSON.stringify({ name: 'moor-driver-both', type: 'module', exports: { '.': { import: './main.js' } } }),
    );
    await writeFile(
      join(store, 'plugins', 'node_modules', 'moor-driver-both', 'main.js'),
      "export default { name: 'both', description: 'npm', flags: [], load: async () => ({ fromFlags() {}, fromRecord() {} }) };\n",
    );
    await executable(join(bin, 'docker-machine-driver-both'));
    await executable(join(bin, 'docker-machine-driver-onpath'));
    await executable(join(store, 'plugins', 'docker-machine-driver-onpath'));
    await writeFile(join(bin, 'docker-machine-driver-notexec'), 'x');
    await executable(join(bin, 'docker-machine-driver-none'));
    env = { PATH: `${bin}:/nonexistent` };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('built-in drivers win, then npm packages, then plugin binaries (the store’s plugins folder before PATH)', async () => {
    assert.equal((await findDriver('none', { storePath: store, env })).source, undefined);
    const both = await findDriver('both', { storePath: store, env });
    assert.deepEqual(both.source, { kind: 'npm', path: join(store, 'plugins', 'node_modules', 'moor-driver-both') });
    assert.equal(both.description, 'npm');
    const onPath = await findDriver('onpath', { storePath: store, env });
    assert.deepEqual(onPath.source, { kind: 'plugin', path: join(store, 'plugins', 'docker-machine-driver-onpath') });
    assert.deepEqual(onPath.flags, []);
  });

  it('refuses names that are not driver names, and files that are not executable', async () => {
    for (const name of ['../x', 'a/b', '', '-d', 'notexec']) {
      await assert.rejects(findDriver(name, { storePath: store, env }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'UNKNOWN_DRIVER', name);
        return true;
      });
    }
  });

  it('discovers installed drivers without starting them, each name once, not the built-in ones', () => {
    assert.deepEqual(discoverDrivers({ storePath: store, env }), [
      { name: 'both', kind: 'npm', path: join(store, 'plugins', 'node_modules', 'moor-driver-both') },
      { name: 'onpath', kind: 'plugin', path: join(store, 'plugins', 'docker-machine-driver-onpath') },
    ]);
  });
});

describe('libmachine flags', () => {
  const flag = (type: string, value: Record<string, gob.GobValue>) => ({ type, value });

  it('maps GetCreateFlags to driver flags with env vars and defaults', () => {
    assert.deepEqual(
      toDriverFlags([
        flag('*mcnflag.StringFlag', { Name: 'x-token', Usage: 'Token', EnvVar: 'X_TOKEN', Value: '' }),
        flag('*mcnflag.StringFlag', { Name: 'x-region', Usage: 'Region', EnvVar: '', Value: 'fsn1' }),
        flag('*mcnflag.IntFlag', { Name: 'x-size', Usage: 'Size', EnvVar: '', Value: 20 }),
        flag('*mcnflag.StringSliceFlag', { Name: 'x-tags', Usage: 'Tags', EnvVar: '', Value: ['a'] }),
        flag('*mcnflag.BoolFlag', { Name: 'x-ipv6', Usage: 'IPv6', EnvVar: 'X_IPV6' }),
      ]),
      [
        { name: 'x-token', type: 'string', description: 'Token', env: ['X_TOKEN'] },
        { name: 'x-region', type: 'string', description: 'Region', default: 'fsn1' },
        { name: 'x-size', type: 'integer', description: 'Size', default: 20 },
        { name: 'x-tags', type: 'strings', description: 'Tags', default: ['a'] },
        { name: 'x-ipv6', type: 'boolean', description: 'IPv6', env: ['X_IPV6'] },
      ],
    );
  });

  it('refuses what is not a flag', () => {
    assert.throws(() => toDriverFlags('x' as unknown as gob.GobValue), /not return a list/);
    assert.throws(() => toDriverFlags([flag('*other.Flag', { Name: 'x' })]), /not a flag/);
    assert.throws(() => toDriverFlags([flag('*mcnflag.StringFlag', { Name: '--bad name' })]), /not a flag/);
  });

  it('sends every flag with a value of its Go type, plus the swarm flags', () => {
    const { type, value } = rpcFlagValues(
      [
        { name: 'x-token', type: 'string', description: '' },
        { name: 'x-size', type: 'integer', description: '' },
        { name: 'x-tags', type: 'strings', description: '' },
        { name: 'x-ipv6', type: 'boolean', description: '' },
      ],
      { 'x-size': 40 },
    );
    assert.equal((type as gob.StructType).registeredName, '*rpcdriver.RPCFlags');
    const values = (value as { Values: Record<string, gob.InterfaceValue> }).Values;
    const shown = Object.fromEntries(
      Object.entries(values).map(([name, entry]) => [name, [entry.type.goString, entry.value]]),
    );
    assert.deepEqual(shown, {
      'swarm-master': ['bool', false],
      'swarm-host': ['string', ''],
      'swarm-discovery': ['string', ''],
      'x-token': ['string', ''],
      'x-size': ['int', 40],
      'x-tags': ['[]string', []],
      'x-ipv6': ['bool', false],
    });
  });
});
