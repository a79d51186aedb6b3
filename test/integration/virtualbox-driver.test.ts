/**
 * The virtualbox driver against the fake VBoxManage (test/fixtures/fake-vboxmanage), in process: the exact
 * VBoxManage calls of pre-create, create, start, stop, kill, restart and rm, parallel creates sharing one
 * host-only network, and every failure with its cleanup calls. The seed ISO is read back with isoinfo and
 * its YAML parsed with PyYAML.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Driver } from '../../drivers/api.js';
import { virtualboxDriver } from '../../drivers/virtualbox/definition.js';
import { factory } from '../../drivers/virtualbox/driver.js';
import { driverContext } from '../../src/core/driver-context.js';
import { resolveDriverFlags } from '../../src/core/driver-flags.js';
import { MoorError } from '../../src/core/errors.js';
import { Store } from '../../src/core/store.js';
import { silentLogger } from '../../src/core/log.js';
import { FAKE_VBOXMANAGE, FakeVBox } from '../helpers/fake-vbox.js';
import { isoFile, parseYaml } from '../helpers/seed.js';

let storePath: string;
let image: string;
let fake: FakeVBox;

const FAKE_KNOBS = ['FAKE_VBOX_FAIL', 'FAKE_VBOX_NO_VTX', 'FAKE_VBOX_VERSION', 'FAKE_VBOX_IGNORE_ACPI'];

async function newFake(): Promise<FakeVBox> {
  fake = await FakeVBox.create();
  process.env['FAKE_VBOX_DIR'] = fake.dir;
  return fake;
}

async function driverFor(name: string, given: Record<string, string | number | boolean | string[]> = {}) {
  const machineDir = join(storePath, 'machines', name);
  await mkdir(machineDir, { recursive: true });
  const flags = resolveDriverFlags(
    virtualboxDriver,
    { 'virtualbox-vboxmanage': FAKE_VBOXMANAGE, 'virtualbox-image-url': image, ...given },
    {},
  );
  const driver = factory.fromFlags(driverContext(new Store(storePath), name, silentLogger), flags);
  return { driver, machineDir };
}

/** What moor's store would write after create: the record, so that later creates see the machine. */
async function saveRecord(name: string, driver: Driver): Promise<void> {
  await writeFile(
    join(storePath, 'machines', name, 'config.json'),
    JSON.stringify({ Name: name, DriverName: 'virtualbox', Driver: driver.toJSON() }),
  );
}

function reopen(name: string, driver: Driver): Driver {
  return factory.fromRecord(driverContext(new Store(storePath), name, silentLogger), driver.toJSON());
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

function createCalls(name: string, dir: string, state: Record<string, unknown>): string[][] {
  return [
    ['createvm', '--name', name, '--ostype', 'Ubuntu_64', '--basefolder', dir, '--register'],
    ['clonemedium', 'disk', image, join(dir, 'disk.vdi'), '--format', 'VDI'],
    ['modifymedium', 'disk', join(dir, 'disk.vdi'), '--resize', '20000'],
    [
      'modifyvm',
      name,
      '--firmware',
      'bios',
      '--memory',
      '2048',
      '--cpus',
      '2',
      '--acpi',
      'on',
      '--ioapic',
      'on',
      '--rtcuseutc',
      'on',
      '--boot1',
      'disk',
      '--boot2',
      'none',
      '--boot3',
      'none',
      '--boot4',
      'none',
      '--uart1',
      '0x3F8',
      '4',
      '--uartmode1',
      'file',
      join(dir, 'console.log'),
      '--nic1',
      'nat',
      '--nictype1',
      '82540EM',
      '--macaddress1',
      String(state['NatMAC']),
      '--cableconnected1',
      'on',
      '--natdnsproxy1',
      'on',
      '--natdnshostresolver1',
      'off',
      '--natpf1',
      `ssh,tcp,127.0.0.1,${String(state['SSHPort'])},,22`,
      '--nic2',
      'hostonly',
      '--hostonlyadapter2',
      'vboxnet0',
      '--nictype2',
      '82540EM',
      '--nicpromisc2',
      'deny',
      '--macaddress2',
      String(state['HostOnlyMAC']),
      '--cableconnected2',
      'on',
    ],
    [
      'storagectl',
      name,
      '--name',
      'SATA',
      '--add',
      'sata',
      '--controller',
      'IntelAhci',
      '--portcount',
      '2',
      '--hostiocache',
      'on',
    ],
    [
      'storageattach',
      name,
      '--storagectl',
      'SATA',
      '--port',
      '0',
      '--device',
      '0',
      '--type',
      'hdd',
      '--medium',
      join(dir, 'disk.vdi'),
    ],
    [
      'storageattach',
      name,
      '--storagectl',
      'SATA',
      '--port',
      '1',
      '--device',
      '0',
      '--type',
      'dvddrive',
      '--medium',
      join(dir, 'seed.iso'),
    ],
    ['startvm', name, '--type', 'headless'],
  ];
}

const NEW_NETWORK = [
  ['list', 'hostonlyifs'],
  ['hostonlyif', 'create'],
  ['hostonlyif', 'ipconfig', 'vboxnet0', '--ip', '192.168.56.1', '--netmask', '255.255.255.0'],
  ['list', 'dhcpservers'],
  [
    'dhcpserver',
    'add',
    '--interface=vboxnet0',
    '--server-ip=192.168.56.128',
    '--netmask=255.255.255.0',
    '--lower-ip=192.168.56.129',
    '--upper-ip=192.168.56.254',
    '--enable',
  ],
];
const EXISTING_NETWORK = [
  ['list', 'hostonlyifs'],
  ['list', 'dhcpservers'],
];

before(async () => {
  storePath = await mkdtemp(join(tmpdir(), 'moor-vbox-'));
  image = join(storePath, 'image.vmdk');
  await writeFile(image, 'not really a VMDK\n');
});
afterEach(() => {
  for (const name of FAKE_KNOBS) delete process.env[name];
  delete process.env['MOOR_VIRTUALBOX_STOP_TIMEOUT'];
});
after(async () => {
  delete process.env['FAKE_VBOX_DIR'];
  await rm(storePath, { recursive: true, force: true });
});

describe('virtualbox driver: create and lifecycle (fake VBoxManage)', () => {
  let driver: Driver;
  let second: Driver;
  let dir: string;

  it('pre-create checks the version, hardware virtualization and that no VM has the name', async () => {
    await newFake();
    ({ driver, machineDir: dir } = await driverFor('vb1'));
    await driver.preCreateCheck();
    assert.deepEqual(fake.calls(), [['--version'], ['list', 'hostinfo'], ['list', 'vms']]);
  });

  it('create makes the host-only network, the VM, its disk and seed, and starts it: exact calls', async () => {
    await driver.create();
    const state = driver.toJSON();
    assert.equal(state['IPAddress'], '192.168.56.2');
    assert.equal(state['HostOnlyInterface'], 'vboxnet0');
    assert.ok(Number(state['SSHPort']) > 1024);
    assert.match(String(state['NatMAC']), /^080027[0-9A-F]{6}$/);
    assert.deepEqual(fake.callsSince(3), [...NEW_NETWORK, ...createCalls('vb1', dir, state)]);
    const vm = fake.state().vms['vb1']!;
    assert.equal(vm.state, 'running');
    assert.deepEqual(vm.natpf, [`ssh,tcp,127.0.0.1,${String(state['SSHPort'])},,22`]);
    assert.equal(fake.state().disks[join(dir, 'disk.vdi')]?.size, 20000);
    assert.ok(await exists(join(dir, 'id_ed25519')));
    assert.deepEqual(await driver.getSSHConfig(), {
      host: '127.0.0.1',
      port: state['SSHPort'],
      user: 'docker',
      keyPath: join(dir, 'id_ed25519'),
    });
    assert.equal(await driver.getURL(), 'tcp://192.168.56.2:2376');
    assert.equal(await driver.getState(), 'Running');
    await saveRecord('vb1', driver);
  });

  it('the seed ISO is a NoCloud "cidata" volume whose YAML sets user, key, hostname and the static address', async () => {
    const iso = join(dir, 'seed.iso');
    const info = spawnSync('isoinfo', ['-d', '-i', iso], { encoding: 'utf8' });
    assert.match(info.stdout, /^Volume id: cidata$/m);
    assert.match(info.stdout, /Joliet/);
    const listing = spawnSync('isoinfo', ['-J', '-f', '-i', iso], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean);
    assert.deepEqual(listing.sort(), ['/meta-data', '/network-config', '/user-data']);
    const state = driver.toJSON();
    const publicKey = (await readFile(join(dir, 'id_ed25519.pub'), 'utf8')).trim();
    const userData = isoFile(iso, 'user-data');
    assert.ok(userData.startsWith('#cloud-config\n'));
    assert.deepEqual(parseYaml(userData), {
      hostname: 'vb1',
      preserve_hostname: false,
      manage_etc_hosts: true,
      ssh_pwauth: false,
      users: [
        {
          name: 'docker',
          shell: '/bin/bash',
          sudo: 'ALL=(ALL) NOPASSWD:ALL',
          lock_passwd: true,
          ssh_authorized_keys: [publicKey],
        },
      ],
    });
    const meta = parseYaml(isoFile(iso, 'meta-data')) as Record<string, string>;
    assert.equal(meta['local-hostname'], 'vb1');
    assert.match(meta['instance-id']!, /^moor-vb1-[0-9a-f]{8}$/);
    const mac = (value: unknown) => String(value).toLowerCase().match(/../g)!.join(':');
    assert.deepEqual(parseYaml(isoFile(iso, 'network-config')), {
      version: 2,
      ethernets: {
        nat: { match: { macaddress: mac(state['NatMAC']) }, dhcp4: true },
        hostonly: { match: { macaddress: mac(state['HostOnlyMAC']) }, dhcp4: false, addresses: ['192.168.56.2/24'] },
      },
    });
  });

  it('a second machine reuses the host-only network and DHCP server and gets the next address', async () => {
    const made = await driverFor('vb2');
    second = made.driver;
    const machineDir = made.machineDir;
    const mark = fake.calls().length;
    await second.create();
    const state = second.toJSON();
    assert.equal(state['IPAddress'], '192.168.56.3');
    assert.notEqual(state['SSHPort'], driver.toJSON()['SSHPort']);
    assert.deepEqual(fake.callsSince(mark), [...EXISTING_NETWORK, ...createCalls('vb2', machineDir, state)]);
    assert.equal(fake.state().hostonlyifs.length, 1);
    await saveRecord('vb2', second);
  });

  it('stop presses the ACPI power button; start boots it headless; state follows VMState', async () => {
    const reopened = reopen('vb1', driver);
    let mark = fake.calls().length;
    await reopened.stop();
    assert.deepEqual(fake.callsSince(mark), [
      ['controlvm', 'vb1', 'acpipowerbutton'],
      ['showvminfo', 'vb1', '--machinereadable'],
    ]);
    assert.equal(await reopened.getState(), 'Stopped');
    mark = fake.calls().length;
    await reopened.start();
    assert.deepEqual(fake.callsSince(mark), [
      ['showvminfo', 'vb1', '--machinereadable'],
      ['startvm', 'vb1', '--type', 'headless'],
    ]);
    assert.equal(await reopened.getState(), 'Running');
    assert.equal(reopened.toJSON()['IPAddress'], '192.168.56.2', 'the static address survives a restart');
  });

  it('paused and saved VMs report Paused and Saved; start resumes a paused VM', async () => {
    assert.equal(fake.run(['controlvm', 'vb1', 'pause']).status, 0);
    assert.equal(await driver.getState(), 'Paused');
    const mark = fake.calls().length;
    await driver.start();
    assert.deepEqual(fake.callsSince(mark), [
      ['showvminfo', 'vb1', '--machinereadable'],
      ['controlvm', 'vb1', 'resume'],
    ]);
    assert.equal(await driver.getState(), 'Running');
  });

  it('stop powers the VM off when the guest ignores the power button past the timeout', async () => {
    process.env['FAKE_VBOX_IGNORE_ACPI'] = '1';
    process.env['MOOR_VIRTUALBOX_STOP_TIMEOUT'] = '0.3';
    const mark = fake.calls().length;
    await driver.stop();
    const calls = fake.callsSince(mark);
    assert.deepEqual(calls[0], ['controlvm', 'vb1', 'acpipowerbutton']);
    assert.deepEqual(calls.at(-1), ['controlvm', 'vb1', 'poweroff']);
    assert.ok(calls.slice(1, -1).every((call) => call.join(' ') === 'showvminfo vb1 --machinereadable'));
    assert.equal(await driver.getState(), 'Stopped');
  });

  it('restart stops (ACPI) and starts; kill powers off', async () => {
    fake.run(['startvm', 'vb1', '--type', 'headless']);
    let mark = fake.calls().length;
    await driver.restart();
    assert.deepEqual(fake.callsSince(mark), [
      ['showvminfo', 'vb1', '--machinereadable'],
      ['controlvm', 'vb1', 'acpipowerbutton'],
      ['showvminfo', 'vb1', '--machinereadable'],
      ['startvm', 'vb1', '--type', 'headless'],
    ]);
    mark = fake.calls().length;
    await driver.kill();
    assert.deepEqual(fake.callsSince(mark), [['controlvm', 'vb1', 'poweroff']]);
    assert.equal(await driver.getState(), 'Stopped');
  });

  it('rm of a running VM powers it off, unregisters it with its disk, and deletes the seed', async () => {
    const secondDir = join(storePath, 'machines', 'vb2');
    const mark = fake.calls().length;
    await reopen('vb2', second).remove();
    assert.deepEqual(fake.callsSince(mark), [
      ['showvminfo', 'vb2', '--machinereadable'],
      ['controlvm', 'vb2', 'poweroff'],
      ['unregistervm', 'vb2', '--delete'],
    ]);
    assert.equal(fake.state().vms['vb2'], undefined);
    assert.equal(await exists(join(secondDir, 'disk.vdi')), false);
    assert.equal(await exists(join(secondDir, 'seed.iso')), false);
  });

  it('rm of a stopped VM just unregisters it; a VM VirtualBox no longer has is removed without error', async () => {
    let mark = fake.calls().length;
    await driver.remove();
    assert.deepEqual(fake.callsSince(mark), [
      ['showvminfo', 'vb1', '--machinereadable'],
      ['unregistervm', 'vb1', '--delete'],
    ]);
    mark = fake.calls().length;
    await driver.remove();
    assert.deepEqual(fake.callsSince(mark), [['showvminfo', 'vb1', '--machinereadable']]);
    assert.equal(await driver.getState(), 'Error');
    await rm(join(storePath, 'machines'), { recursive: true, force: true });
  });
});

describe('virtualbox driver: parallel creates', () => {
  it('four creates at once make one host-only interface and DHCP server, and four distinct addresses and ports', async () => {
    await newFake();
    const names = ['par1', 'par2', 'par3', 'par4'];
    const drivers = await Promise.all(names.map(async (name) => (await driverFor(name)).driver));
    await Promise.all(drivers.map((driver) => driver.create()));
    const calls = fake.calls();
    assert.equal(calls.filter((call) => call.join(' ') === 'hostonlyif create').length, 1);
    assert.equal(calls.filter((call) => call[0] === 'dhcpserver').length, 1);
    assert.equal(fake.state().hostonlyifs.length, 1);
    assert.equal(fake.state().dhcpservers.length, 1);
    const ips = drivers.map((driver) => driver.toJSON()['IPAddress']);
    assert.deepEqual([...ips].sort(), ['192.168.56.2', '192.168.56.3', '192.168.56.4', '192.168.56.5']);
    assert.equal(new Set(drivers.map((driver) => driver.toJSON()['SSHPort'])).size, 4);
    assert.deepEqual(Object.keys(fake.state().vms).sort(), names);
    await rm(join(storePath, 'machines'), { recursive: true, force: true });
  });
});

describe('virtualbox driver: failures and their cleanup', () => {
  async function failingCreate(failAt: string, name: string) {
    await newFake();
    process.env['FAKE_VBOX_FAIL'] = failAt;
    const { driver, machineDir } = await driverFor(name);
    const error = await driver.create().then(
      () => assert.fail('create succeeded'),
      (caught: unknown) => caught,
    );
    return { error: error as MoorError, machineDir, calls: fake.calls() };
  }

  it('VBoxManage missing: a clear error naming the path and what to install', async () => {
    await newFake();
    const { driver } = await driverFor('nope', { 'virtualbox-vboxmanage': join(storePath, 'no', 'VBoxManage') });
    await assert.rejects(driver.preCreateCheck(), (error: MoorError) => {
      assert.equal(error.code, 'VIRTUALBOX_MISSING');
      assert.match(error.message, /VBoxManage was not found at .*no\/VBoxManage/);
      assert.ok(error.suggestions.some((s) => s.includes('Install VirtualBox')));
      return true;
    });
  });

  it('VT-x disabled: pre-create fails with the way out; --virtualbox-no-vtx-check skips the check', async () => {
    await newFake();
    process.env['FAKE_VBOX_NO_VTX'] = '1';
    const { driver } = await driverFor('novtx');
    await assert.rejects(driver.preCreateCheck(), (error: MoorError) => {
      assert.equal(error.code, 'VIRTUALBOX_NO_VTX');
      assert.ok(error.suggestions.some((s) => s.includes('--virtualbox-no-vtx-check')));
      return true;
    });
    const mark = fake.calls().length;
    const { driver: unchecked } = await driverFor('novtx', { 'virtualbox-no-vtx-check': true });
    await unchecked.preCreateCheck();
    assert.deepEqual(fake.callsSince(mark), [['--version'], ['list', 'vms']]);
  });

  it('VirtualBox too old, or a VM of the same name: pre-create fails', async () => {
    await newFake();
    process.env['FAKE_VBOX_VERSION'] = '6.0.24r139119';
    const { driver } = await driverFor('old');
    await assert.rejects(driver.preCreateCheck(), /VirtualBox 6\.0\.24 is too old: moor needs 6\.1 or later/);
    delete process.env['FAKE_VBOX_VERSION'];
    fake.run(['createvm', '--name', 'old', '--basefolder', join(storePath, 'other'), '--register']);
    await assert.rejects(driver.preCreateCheck(), /VirtualBox already has a VM named "old"/);
  });

  it("--virtualbox-hostonly-ip outside the machines' half of the network is refused before anything is made", async () => {
    await newFake();
    for (const ip of ['192.168.56.200', '192.168.56.1', '192.168.57.5', 'nope']) {
      await assert.rejects(driverFor('badip', { 'virtualbox-hostonly-ip': ip }), (error: MoorError) => {
        assert.equal(error.exitCode, 2);
        assert.match(error.message, /192\.168\.56\.2 to 192\.168\.56\.127/);
        return true;
      });
    }
    const { driver } = await driverFor('goodip', { 'virtualbox-hostonly-ip': '192.168.56.77' });
    await driver.create();
    assert.equal(driver.toJSON()['IPAddress'], '192.168.56.77');
    await rm(join(storePath, 'machines'), { recursive: true, force: true });
  });

  it('host-only interface creation fails: nothing else is made', async () => {
    const { error, machineDir, calls } = await failingCreate('hostonlyif create', 'hof');
    assert.match(error.message, /VBoxManage hostonlyif create failed/);
    assert.deepEqual(calls, [
      ['list', 'hostonlyifs'],
      ['hostonlyif', 'create'],
    ]);
    assert.equal(await exists(join(machineDir, 'seed.iso')), false);
  });

  it('disk clone fails: the VM is unregistered and deleted, the seed removed', async () => {
    const { error, machineDir, calls } = await failingCreate('clonemedium', 'cf');
    assert.match(error.message, /VBoxManage clonemedium .* failed/);
    assert.deepEqual(calls.slice(NEW_NETWORK.length), [
      ['createvm', '--name', 'cf', '--ostype', 'Ubuntu_64', '--basefolder', machineDir, '--register'],
      ['clonemedium', 'disk', image, join(machineDir, 'disk.vdi'), '--format', 'VDI'],
      ['unregistervm', 'cf', '--delete'],
    ]);
    assert.deepEqual(fake.state().vms, {});
    assert.equal(await exists(join(machineDir, 'seed.iso')), false);
    assert.equal(await exists(join(machineDir, 'cf')), false, 'the VM folder is gone');
  });

  it('attaching the disk fails: the cloned disk is closed and deleted, then the VM', async () => {
    const { calls, machineDir } = await failingCreate('storageattach ad --storagectl SATA --port 0', 'ad');
    const disk = join(machineDir, 'disk.vdi');
    assert.deepEqual(calls.slice(-3), [
      [
        'storageattach',
        'ad',
        '--storagectl',
        'SATA',
        '--port',
        '0',
        '--device',
        '0',
        '--type',
        'hdd',
        '--medium',
        disk,
      ],
      ['closemedium', 'disk', disk, '--delete'],
      ['unregistervm', 'ad', '--delete'],
    ]);
    assert.deepEqual(fake.state().disks, {});
    assert.equal(await exists(disk), false);
  });

  it('startvm fails: the VM is unregistered with its disk', async () => {
    const { calls, machineDir } = await failingCreate('startvm', 'sf');
    assert.deepEqual(calls.slice(-2), [
      ['startvm', 'sf', '--type', 'headless'],
      ['unregistervm', 'sf', '--delete'],
    ]);
    assert.equal(await exists(join(machineDir, 'disk.vdi')), false);
    assert.deepEqual(fake.state().vms, {});
  });
});
