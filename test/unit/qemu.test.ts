/**
 * Pure and local parts of the qemu driver: the exact QEMU argument lists (every architecture, accelerator and
 * network), flag parsing, the default image, the accelerator choice, the bounded KVM probe (against fake
 * qemu binaries: one that answers, one that hangs as KVM does under nested virtualisation, one that fails),
 * the QMP client against a fake QMP server on a unix socket, and the driver's default engine transport.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AccelHost, chooseAccel, probeKvm } from '../../drivers/qemu/accel.js';
import {
  aarch64FirmwareCandidates,
  defaultImageUrl,
  hostArch,
  parseDiskSize,
  parseNetwork,
  qemuArgs,
} from '../../drivers/qemu/args.js';
import { qemuDriver } from '../../drivers/qemu/definition.js';
import { factory, installHints, tailOf } from '../../drivers/qemu/driver.js';
import { QmpClient, qmp } from '../../drivers/qemu/qmp.js';
import { DEFAULT_DRIVER } from '../../drivers/registry.js';
import { silentLogger } from '../../src/core/log.js';
import { VM_PLAN } from '../helpers/vm-plan.js';

const TAIL = [
  '-device',
  'virtio-rng-pci',
  '-chardev',
  'file,id=serial0,path=/m/dev/console.log,append=on',
  '-serial',
  'chardev:serial0',
  '-qmp',
  'unix:/m/dev/qmp.sock,server=on,wait=off',
  '-pidfile',
  '/m/dev/qemu.pid',
  '-daemonize',
];
const HEAD = ['-name', 'dev', '-nodefaults', '-no-user-config', '-display', 'none'];
const DISKS = [
  '-m',
  '2048',
  '-smp',
  '2',
  '-drive',
  'if=virtio,format=qcow2,discard=unmap,file=/m/dev/disk.qcow2',
  '-drive',
  'if=virtio,format=raw,readonly=on,file=/m/dev/seed.iso',
];
const USER_NET = [
  '-netdev',
  'user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22',
  '-device',
  'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56',
];
const FIRMWARE = { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/m/dev/efi-vars.fd' };
const PFLASH = [
  '-drive',
  'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd',
  '-drive',
  'if=pflash,format=raw,unit=1,file=/m/dev/efi-vars.fd',
];

describe('qemu argument lists', () => {
  it('x86_64 under tcg on the user network: q35, cpu max, SSH forwarded from 127.0.0.1', () => {
    assert.deepEqual(qemuArgs(VM_PLAN), [
      ...HEAD,
      '-machine',
      'q35,accel=tcg',
      '-cpu',
      'max',
      ...DISKS,
      ...USER_NET,
      ...TAIL,
    ]);
  });

  it('x86_64 under kvm, tls: cpu host, the engine port forwarded too', () => {
    assert.deepEqual(
      qemuArgs({ ...VM_PLAN, accel: 'kvm', network: { kind: 'user', sshPort: 40022, enginePort: 40376 } }),
      [
        ...HEAD,
        '-machine',
        'q35,accel=kvm',
        '-cpu',
        'host',
        ...DISKS,
        '-netdev',
        'user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40376-:2376',
        '-device',
        'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56',
        ...TAIL,
      ],
    );
  });

  it('x86_64 under hvf (an Intel Mac) on a bridge', () => {
    assert.deepEqual(qemuArgs({ ...VM_PLAN, accel: 'hvf', network: { kind: 'bridge', bridge: 'br0' } }), [
      ...HEAD,
      '-machine',
      'q35,accel=hvf',
      '-cpu',
      'host',
      ...DISKS,
      '-netdev',
      'bridge,id=net0,br=br0',
      '-device',
      'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56',
      ...TAIL,
    ]);
  });

  for (const [accel, machine, cpu] of [
    ['hvf', 'virt,accel=hvf', 'host'],
    ['kvm', 'virt,accel=kvm,gic-version=host', 'host'],
    ['tcg', 'virt,accel=tcg,gic-version=max', 'max'],
  ] as const) {
    it(`aarch64 under ${accel}: virt machine, UEFI code read-only and the machine's own variable store`, () => {
      assert.deepEqual(qemuArgs({ ...VM_PLAN, arch: 'aarch64', accel, firmware: FIRMWARE }), [
        ...HEAD,
        '-machine',
        machine,
        '-cpu',
        cpu,
        ...PFLASH,
        ...DISKS,
        ...USER_NET,
        ...TAIL,
      ]);
    });
  }

  it('aarch64 without firmware is a programming error; commas in paths are escaped as QEMU wants', () => {
    assert.throws(() => qemuArgs({ ...VM_PLAN, arch: 'aarch64' }), /UEFI/);
    const args = qemuArgs({ ...VM_PLAN, disk: '/a,b/disk.qcow2', name: 'x,y' });
    assert.ok(args.includes('if=virtio,format=qcow2,discard=unmap,file=/a,,b/disk.qcow2'));
    assert.equal(args[1], 'x,,y');
  });

  it('firmware is looked for beside the binary, in Homebrew, Debian, Fedora and Arch places', () => {
    const candidates = aarch64FirmwareCandidates('/opt/q/bin/qemu-system-aarch64').map(([code]) => code);
    assert.equal(candidates[0], '/opt/q/share/qemu/edk2-aarch64-code.fd');
    assert.ok(candidates.includes('/opt/homebrew/share/qemu/edk2-aarch64-code.fd'));
    assert.ok(candidates.includes('/usr/share/AAVMF/AAVMF_CODE.fd'));
    assert.ok(candidates.includes('/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw'));
    assert.ok(candidates.includes('/usr/share/edk2/aarch64/QEMU_CODE.fd'));
  });
});

describe('qemu flag values', () => {
  it('disk sizes: units, a bare number in MB, nonsense refused', () => {
    assert.equal(parseDiskSize('20G'), 20480);
    assert.equal(parseDiskSize('20000M'), 20000);
    assert.equal(parseDiskSize('20000'), 20000);
    assert.equal(parseDiskSize('1T'), 1048576);
    assert.equal(parseDiskSize('20GiB'), 20480);
    assert.equal(parseDiskSize('20X'), undefined);
    assert.equal(parseDiskSize('-1G'), undefined);
    assert.equal(parseDiskSize('0'), undefined);
  });

  it('networks: user (also empty), bridge=NAME; anything else refused', () => {
    assert.deepEqual(parseNetwork('user'), { kind: 'user' });
    assert.deepEqual(parseNetwork(''), { kind: 'user' });
    assert.deepEqual(parseNetwork('bridge=thbr0'), { kind: 'bridge', bridge: 'thbr0' });
    assert.equal(parseNetwork('bridge='), undefined);
    assert.equal(parseNetwork('bridge=a b'), undefined);
    assert.equal(parseNetwork('tap'), undefined);
  });

  it("the default image is Debian 12's genericcloud qcow2 for the architecture", () => {
    assert.equal(
      defaultImageUrl('x86_64'),
      'https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2',
    );
    assert.equal(
      defaultImageUrl('aarch64'),
      'https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-arm64.qcow2',
    );
    assert.equal(hostArch('x64'), 'x86_64');
    assert.equal(hostArch('arm64'), 'aarch64');
    assert.equal(hostArch('ia32'), undefined);
  });

  const context = {
    machineName: 'dev',
    machineDir: '/m/dev',
    cacheDir: '/m/cache',
    log: silentLogger,
    env: {},
    withLock: <T>(_key: string, _options: unknown, fn: () => Promise<T>) => fn(),
    otherMachines: async () => [],
  };
  const defaults = { 'qemu-accel': 'auto', 'qemu-disk-size': '20G', 'qemu-memory': 2048, 'qemu-cpu-count': 2 };
  const flags = { ...defaults, 'qemu-network': 'user', 'qemu-stop-timeout': 60, 'qemu-arch': 'x86_64' };

  it('fromFlags: the default image for the arch, disk in MB; bridge needs --qemu-ip; ip is bridge-only', () => {
    const state = factory.fromFlags(context, flags).toJSON();
    assert.equal(state['ImageURL'], defaultImageUrl('x86_64'));
    assert.equal(state['DiskSizeMB'], 20480);
    assert.equal(state['Network'], 'user');
    assert.throws(() => factory.fromFlags(context, { ...flags, 'qemu-network': 'bridge=thbr0' }), /--qemu-ip/);
    const bridged = factory
      .fromFlags(context, {
        ...flags,
        'qemu-network': 'bridge=thbr0',
        'qemu-ip': '10.123.0.50/24',
        'qemu-gateway': '10.123.0.1',
      })
      .toJSON();
    assert.equal(bridged['IPAddress'], '10.123.0.50');
    assert.equal(bridged['IPPrefix'], 24);
    assert.throws(() => factory.fromFlags(context, { ...flags, 'qemu-ip': '10.0.0.2/24' }), /bridge=NAME only/);
    assert.throws(() => factory.fromFlags(context, { ...flags, 'qemu-disk-size': '512M' }), /at least 1G/);
    assert.throws(() => factory.fromFlags(context, { ...flags, 'qemu-image-checksum': 'abc' }), /SHA-256 or SHA-512/);
  });

  it('the default engine transport: ssh on the user network, tls on a bridge; qemu is the default driver', () => {
    assert.equal(qemuDriver.defaultTransport?.({ 'qemu-network': 'user' }), 'ssh');
    assert.equal(qemuDriver.defaultTransport?.({}), 'ssh');
    assert.equal(qemuDriver.defaultTransport?.({ 'qemu-network': 'bridge=br0' }), 'tls');
    assert.equal(DEFAULT_DRIVER, 'qemu');
  });

  it('install hints name the package per system, and the other drivers', () => {
    const hints = installHints('x86_64').join('\n');
    assert.match(hints, /apt-get install qemu-system-x86 qemu-utils/);
    assert.match(hints, /dnf install qemu-kvm qemu-img/);
    assert.match(hints, /pacman -S qemu-base/);
    assert.match(hints, /brew install qemu/);
    assert.match(hints, /--driver generic/);
    assert.match(installHints('aarch64').join('\n'), /qemu-system-arm qemu-utils qemu-efi-aarch64/);
  });
});

describe('accelerator choice', () => {
  const host = (over: Partial<AccelHost>): AccelHost => ({
    platform: 'linux',
    arch: 'x86_64',
    kvmDeviceUsable: async () => true,
    probeKvm: async () => ({ ok: true }),
    ...over,
  });

  it('auto: kvm where it works, hvf on macOS, tcg with a warning otherwise', async () => {
    assert.deepEqual(await chooseAccel('auto', 'x86_64', host({})), { accel: 'kvm' });
    assert.deepEqual(await chooseAccel('auto', 'aarch64', host({ platform: 'darwin', arch: 'aarch64' })), {
      accel: 'hvf',
    });
    const noDevice = await chooseAccel('auto', 'x86_64', host({ kvmDeviceUsable: async () => false }));
    assert.equal(noDevice.accel, 'tcg');
    assert.match(noDevice.warning ?? '', /\/dev\/kvm .*slow/);
    const hangs = await chooseAccel('auto', 'x86_64', host({ probeKvm: async () => ({ ok: false, reason: 'hung' }) }));
    assert.deepEqual(hangs, { accel: 'tcg', warning: 'No KVM (hung): the machine runs under tcg, which is slow.' });
    const foreign = await chooseAccel('auto', 'aarch64', host({}));
    assert.equal(foreign.accel, 'tcg');
    assert.match(foreign.warning ?? '', /aarch64 guest cannot use/);
  });

  it('kvm asked for and unusable: a clear error; hvf off macOS: a usage error; tcg: always', async () => {
    await assert.rejects(chooseAccel('kvm', 'x86_64', host({ probeKvm: async () => ({ ok: false, reason: 'x' }) })), {
      code: 'QEMU_KVM_UNUSABLE',
    });
    await assert.rejects(chooseAccel('hvf', 'x86_64', host({})), { code: 'USAGE' });
    assert.deepEqual(await chooseAccel('tcg', 'x86_64', host({ kvmDeviceUsable: async () => false })), {
      accel: 'tcg',
    });
  });
});

describe('KVM probe (fake qemu binaries)', () => {
  let dir: string;
  const fake = async (name: string, body: string) => {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moor-kvm-probe-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('a QEMU that answers query-kvm with enabled: KVM works; the arguments ask for accel=kvm and QMP on stdio', async () => {
    const path = await fake(
      'answers',
      `echo "$@" > "${dir}/args"; cat >/dev/null; echo '{"QMP": {}}'; echo '{"return": {}}'; echo '{"return": {"enabled": true, "present": true}}'`,
    );
    assert.deepEqual(await probeKvm(path, 60_000), { ok: true });
    const { readFile } = await import('node:fs/promises');
    assert.equal(
      (await readFile(join(dir, 'args'), 'utf8')).trim(),
      '-machine none,accel=kvm -nodefaults -no-user-config -display none -qmp stdio',
    );
  });

  it('a QEMU that hangs (KVM under nested virtualisation): the probe gives up at its bound and the process is killed', async () => {
    const path = await fake('hangs', `echo $$ > "${dir}/hang.pid"; exec sleep 600`);
    const result = await probeKvm(path, 300);
    assert.equal(result.ok, false);
    assert.match(result.reason ?? '', /did not answer within/);
    const { readFile } = await import('node:fs/promises');
    const pid = Number(await readFile(join(dir, 'hang.pid'), 'utf8'));
    const { waitFor, notYet } = await import('../../src/core/wait.js');
    await waitFor(
      async () => {
        try {
          process.kill(pid, 0);
          return notYet('alive');
        } catch {
          return true;
        }
      },
      { what: 'the probe to be killed', timeoutMs: 60_000 },
    );
  });

  it('a QEMU that fails (no KVM in this kernel) or reports KVM disabled: not usable, with its reason', async () => {
    const fails = await fake(
      'fails',
      `cat >/dev/null; echo 'qemu: failed to initialize kvm: No such file' >&2; exit 1`,
    );
    assert.deepEqual(await probeKvm(fails, 60_000), {
      ok: false,
      reason: 'the KVM probe exited with 1: qemu: failed to initialize kvm: No such file',
    });
    const disabled = await fake('disabled', `cat >/dev/null; echo '{"return": {"enabled": false, "present": true}}'`);
    assert.deepEqual(await probeKvm(disabled, 60_000), { ok: false, reason: 'QEMU reports KVM as not enabled' });
    const missing = await probeKvm(join(dir, 'nothing-here'), 60_000);
    assert.equal(missing.ok, false);
    assert.match(missing.reason ?? '', /could not run/);
  });
});

describe('QMP client (fake QMP server on a unix socket)', () => {
  let dir: string;
  let server: Server;
  let socketPath: string;
  const received: string[] = [];
  let mode: 'normal' | 'silent' | 'no-greeting' = 'normal';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moor-qmp-'));
    socketPath = join(dir, 'qmp.sock');
    server = createServer((socket: Socket) => {
      if (mode === 'no-greeting') return;
      socket.write('{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}\n');
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += chunk.toString();
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          const { execute } = JSON.parse(line) as { execute: string };
          received.push(execute);
          if (mode === 'silent' && execute !== 'qmp_capabilities') continue;
          if (execute === 'query-status') {
            // An event arrives first, in two pieces: the client skips it and joins split lines.
            socket.write('{"event": "RTC_CHANGE", "data": {}');
            socket.write('}\n{"return": {"status": "running", "running": true}}\n');
          } else if (execute === 'bogus') {
            socket.write('{"error": {"class": "CommandNotFound", "desc": "The command bogus has not been found"}}\n');
          } else {
            socket.write('{"return": {}}\n');
          }
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('negotiates capabilities, runs commands in turn, skips events, reports QEMU errors', async () => {
    mode = 'normal';
    received.length = 0;
    const client = await QmpClient.connect(socketPath, 10_000);
    try {
      assert.deepEqual(await client.execute('query-status'), { status: 'running', running: true });
      assert.deepEqual(await client.execute('system_powerdown'), {});
      await assert.rejects(client.execute('bogus'), {
        code: 'QEMU_QMP',
        message: /The command bogus has not been found/,
      });
    } finally {
      client.close();
    }
    assert.deepEqual(received, ['qmp_capabilities', 'query-status', 'system_powerdown', 'bogus']);
    assert.deepEqual(await qmp(socketPath, 'query-status'), { status: 'running', running: true });
  });

  it('a server that never answers, never greets, or is not there: bounded errors', async () => {
    mode = 'silent';
    await assert.rejects(qmp(socketPath, 'query-status', undefined, 200), /did not send the answer to query-status/);
    mode = 'no-greeting';
    await assert.rejects(qmp(socketPath, 'query-status', undefined, 200), /did not send the greeting/);
    await assert.rejects(qmp(join(dir, 'missing.sock'), 'query-status', undefined, 200), /Cannot connect/);
    mode = 'normal';
  });
});

describe('console tail', () => {
  it('the last lines of the serial log, escape sequences and blank lines left out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'moor-tail-'));
    const log = join(dir, 'console.log');
    await writeFile(log, `${Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\r\n')}\r\n\x1b[0m\x1bc\n\n`);
    assert.equal(await tailOf(log, 3), 'line 27\nline 28\nline 29');
    assert.equal(await tailOf(join(dir, 'none.log')), '');
    await rm(dir, { recursive: true, force: true });
  });
});

describe('KVM that passes the probe but fails when the machine starts (fake qemu)', () => {
  // Seen under nested virtualisation: the probe's guestless QEMU gets KVM, the real vCPU aborts
  // ("failed to set MSR ... kvm_buf_set_msrs: Assertion failed"). The fake answers the probe with KVM
  // enabled, fails any start with accel=kvm, and for accel=tcg daemonises as QEMU does: a process whose
  // command line names the pid file, serving an SSH banner on the forwarded port.
  let dir: string;
  let binary: string;
  const kvmUsable = async () => {
    const { kvmDeviceUsable } = await import('../../drivers/qemu/accel.js');
    return kvmDeviceUsable();
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moor-kvm-fallback-'));
    binary = join(dir, 'qemu-system-x86_64');
    // Daemonises as QEMU's -daemonize does: the listening socket is made first (a failure is the exit
    // status), then the child leaves the parent's output and serves, and the parent writes the child's pid
    // to the pid file and exits.
    const server = [
      'import os, socket, sys',
      's = socket.socket()',
      's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
      "s.bind(('127.0.0.1', int(sys.argv[1])))",
      's.listen(8)',
      'pid = os.fork()',
      'if pid:',
      "    open(sys.argv[2], 'w').write(str(pid))",
      '    os._exit(0)',
      'os.setsid()',
      'null = os.open(os.devnull, os.O_RDWR)',
      'for fd in (0, 1, 2): os.dup2(null, fd)',
      'while True:',
      '    c, _ = s.accept()',
      "    c.sendall(b'SSH-2.0-fake\\r\\n')",
      '    c.close()',
    ].join('\n');
    await writeFile(join(dir, 'banner.py'), server);
    await writeFile(
      binary,
      `#!/bin/bash
echo "$*" >> "${dir}/starts"
case " $* " in *" -qmp stdio "*) cat >/dev/null; echo '{"QMP": {}}'; echo '{"return": {}}'; echo '{"return": {"enabled": true, "present": true}}'; exit 0;; esac
case "$*" in *accel=kvm*) echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0' >&2; exit 1;; esac
pidfile=; port=
while [ $# -gt 0 ]; do
  case "$1" in -pidfile) pidfile=$2; shift;; esac
  case "$1" in *hostfwd=tcp:127.0.0.1:*-:22*) port=\${1#*hostfwd=tcp:127.0.0.1:}; port=\${port%%-*};; esac
  shift
done
exec python3 "${dir}/banner.py" "$port" "$pidfile" </dev/null
`,
    );
    await chmod(binary, 0o755);
  });
  after(async () => {
    const { readFile } = await import('node:fs/promises');
    const pid = Number(await readFile(join(dir, 'machine', 'qemu.pid'), 'utf8').catch(() => '0'));
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('auto: the machine starts again under tcg, with a warning; kvm asked for: the failure is the error', async (t) => {
    if (!(await kvmUsable())) return t.skip('/dev/kvm is not usable here: auto would not try KVM');
    const { mkdir, readFile } = await import('node:fs/promises');
    const machineDir = join(dir, 'machine');
    await mkdir(machineDir, { recursive: true });
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (message: string) => void warnings.push(message) };
    const context = {
      machineName: 'dev',
      machineDir,
      cacheDir: join(dir, 'cache'),
      log,
      env: {},
      withLock: <T>(_key: string, _options: unknown, fn: () => Promise<T>) => fn(),
      otherMachines: async () => [],
    };
    const flags = { 'qemu-disk-size': '20G', 'qemu-memory': 2048, 'qemu-cpu-count': 2, 'qemu-network': 'user' };
    const machine = (accel: string) =>
      factory.fromFlags(context, {
        ...flags,
        'qemu-stop-timeout': 60,
        'qemu-arch': 'x86_64',
        'qemu-accel': accel,
        'qemu-binary': binary,
      });

    const asked = machine('kvm');
    await assert.rejects(asked.start(), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'QEMU_START_FAILED');
      assert.match(error.message, /failed to set MSR/);
      return true;
    });
    assert.deepEqual(warnings, []);

    const auto = machine('auto');
    await auto.start();
    assert.equal(auto.toJSON()['LastAccel'], 'tcg');
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      /^QEMU failed under KVM \(QEMU did not start \(exit 1\): .*failed to set MSR.*\): starting the machine under tcg/,
    );
    const starts = (await readFile(join(dir, 'starts'), 'utf8')).trim().split('\n');
    const machines = starts.filter((line) => !line.includes('-qmp stdio'));
    assert.equal(machines.length, 3, starts.join('\n'));
    assert.match(machines[0]!, /-machine q35,accel=kvm -cpu host /);
    assert.match(machines[1]!, /-machine q35,accel=kvm -cpu host /);
    assert.match(machines[2]!, /-machine q35,accel=tcg -cpu max /);
  });
});
