/**
 * bin/dev.js, the development entry, runs the TypeScript sources without a build: package.json names the
 * built CLI's loader (dist/cli-loader.cjs) for oclif's commands and help class, and dev.js points oclif at
 * src/ instead. Checked in a copy of the checkout that has no dist/ at all.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertExit, ROOT, run } from './helpers.js';

describe('bin/dev.js without a build', () => {
  let copy: string;
  let store: string;
  before(async () => {
    copy = await mkdtemp(join(tmpdir(), 'moor-dev-'));
    store = join(copy, 'store');
    for (const item of ['bin', 'package.json', 'tsconfig.json'])
      await cp(join(ROOT, item), join(copy, item), { recursive: true });
    for (const item of ['src', 'drivers', 'templates', 'node_modules'])
      await symlink(join(ROOT, item), join(copy, item));
  });
  after(async () => {
    await rm(copy, { recursive: true, force: true });
  });

  const dev = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', join(copy, 'bin', 'dev.js'), ...args], {
      cwd: copy,
      env: { MOOR_STORAGE_PATH: store },
      timeoutMs: 60_000,
    });

  it('runs a command, the swarm topic and create’s driver help from src/', async () => {
    const version = await dev(['version']);
    assertExit(version, 0, 'version');
    assert.match(version.stdout, /^moor version \d+\.\d+\.\d+ /);
    const swarm = await dev(['swarm', 'ls']);
    assertExit(swarm, 0, 'swarm ls');
    assert.match(swarm.stdout, /^SWARM\s+MACHINE/);
    const help = await dev(['create', '-d', 'generic', '--help']);
    assertExit(help, 0, 'create -d generic --help');
    assert.match(help.stdout, /--generic-ip-address/);
    assert.doesNotMatch(help.stdout, /--amazonec2-/, 'moor’s help class (one driver’s flags) answered');
  });
});
