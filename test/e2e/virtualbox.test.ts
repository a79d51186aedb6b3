/**
 * `moor create -d virtualbox` through the built CLI, with the fake VBoxManage: missing VirtualBox, VT-x
 * disabled and bad flags fail cleanly with their documented exit codes and write nothing; a failing disk
 * clone leaves an Error record and no VM, and `rm` removes the record.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { FAKE_VBOXMANAGE, FakeVBox } from '../helpers/fake-vbox.js';
import { assertCleanError, assertExit, exists, TempStore } from './helpers.js';

describe('virtualbox driver through the CLI (fake VBoxManage)', () => {
  let store: TempStore;
  let image: string;

  before(async () => {
    store = await TempStore.create();
    image = store.path('image.vmdk');
    await writeFile(image, 'fake image\n');
  });
  after(async () => {
    await store.cleanup();
  });

  const create = (name: string, extra: string[], env: Record<string, string> = {}) =>
    store.moor(['create', '-d', 'virtualbox', '--virtualbox-image-url', image, ...extra, name], {
      env,
      timeoutMs: 60_000,
    });

  it('create --help lists the virtualbox flags with their env variables', async () => {
    const help = await store.moor(['create', '--help']);
    assertExit(help, 0, 'create --help');
    for (const flag of [
      'memory',
      'cpu-count',
      'disk-size',
      'hostonly-cidr',
      'share-folder',
      'no-vtx-check',
      'image-url',
    ]) {
      assert.match(help.stdout, new RegExp(`--virtualbox-${flag}`));
    }
    assert.match(help.stdout, /MOOR_VIRTUALBOX_MEMORY, VIRTUALBOX_MEMORY/);
  });

  it('VirtualBox not installed: exit 3, says what to install, nothing written', async () => {
    const result = await create('nobox', [], { PATH: '/usr/bin:/bin', VBOX_INSTALL_PATH: '' });
    assertCleanError(result, 3, 'VirtualBox is not installed', 'Install VirtualBox');
    assert.equal(await exists(store.machineDir('nobox')), false);
    const given = await create('nobox', ['--virtualbox-vboxmanage', store.path('nowhere', 'VBoxManage')]);
    assertCleanError(given, 3, `VBoxManage was not found at ${store.path('nowhere', 'VBoxManage')}`);
  });

  it('VBoxManage found through VBOX_INSTALL_PATH; VT-x disabled: exit 3 with the way out', async () => {
    const fake = await FakeVBox.create();
    const result = await create('novtx', [], {
      VBOX_INSTALL_PATH: FAKE_VBOXMANAGE.replace(/\/VBoxManage$/, ''),
      FAKE_VBOX_DIR: fake.dir,
      FAKE_VBOX_NO_VTX: '1',
    });
    assertCleanError(result, 3, 'hardware virtualization (VT-x/AMD-V)', '--virtualbox-no-vtx-check');
    assert.deepEqual(fake.calls(), [['--version'], ['list', 'hostinfo']]);
    assert.equal(await exists(store.machineDir('novtx')), false);
  });

  it('a host-only CIDR outside 192.168.56.0/21 (flag or env): exit 2 before VirtualBox is asked', async () => {
    const fake = await FakeVBox.create();
    const env = { FAKE_VBOX_DIR: fake.dir };
    const flag = await create(
      'badnet',
      ['--virtualbox-vboxmanage', FAKE_VBOXMANAGE, '--virtualbox-hostonly-cidr', '192.168.99.1/24'],
      env,
    );
    assertCleanError(flag, 2, '192.168.99.1/24 is outside 192.168.56.0/21');
    const fromEnv = await create('badnet', ['--virtualbox-vboxmanage', FAKE_VBOXMANAGE], {
      ...env,
      VIRTUALBOX_HOSTONLY_CIDR: '10.0.0.1/24',
    });
    assertCleanError(fromEnv, 2, '10.0.0.1/24 is outside 192.168.56.0/21');
    const memory = await create('badnet', ['--virtualbox-vboxmanage', FAKE_VBOXMANAGE], {
      ...env,
      MOOR_VIRTUALBOX_MEMORY: 'lots',
    });
    assertCleanError(memory, 2, 'MOOR_VIRTUALBOX_MEMORY must be a whole number');
    assert.deepEqual(fake.calls(), []);
    assert.equal(await exists(store.machineDir('badnet')), false);
  });

  it('disk clone fails: exit 1, the VM is unregistered, the record is kept as Error and rm removes it', async () => {
    const fake = await FakeVBox.create();
    const env = { FAKE_VBOX_DIR: fake.dir, FAKE_VBOX_FAIL: 'clonemedium' };
    const result = await create('clonefail', ['--virtualbox-vboxmanage', FAKE_VBOXMANAGE], env);
    assertCleanError(
      result,
      1,
      'Creating machine "clonefail" failed',
      'VBoxManage clonemedium',
      'moor rm -y clonefail',
    );
    const calls = fake.calls().map((call) => call.slice(0, 2).join(' '));
    assert.deepEqual(calls.slice(-3), ['createvm --name', 'clonemedium disk', 'unregistervm clonefail']);
    assert.deepEqual(fake.state().vms, {});
    const ls = await store.moor(['ls', '--format', '{{.Name}} {{.State}}']);
    assert.match(ls.stdout, /^clonefail Error$/m);
    assert.equal(await exists(store.path('machines', 'clonefail', 'seed.iso')), false);
    const rm = await store.moor(['rm', '-y', 'clonefail'], { env: { FAKE_VBOX_DIR: fake.dir } });
    assertExit(rm, 0, 'rm');
    assert.deepEqual(fake.calls().at(-1), ['showvminfo', 'clonefail', '--machinereadable']);
    assert.equal(await exists(store.machineDir('clonefail')), false);
  });
});
