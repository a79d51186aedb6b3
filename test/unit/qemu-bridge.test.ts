/**
 * The qemu driver's bridge network decided before anything is created (root: a tap of moor's; not root:
 * qemu-bridge-helper with its bridge.conf; macOS: refused), its QEMU arguments, the QMP socket's short path
 * under a long store path (bound and used through it), and swarm's refusal of a user-network qemu machine.
 */
import assert from 'node:assert/strict';
import { lstat, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { qemuArgs, type VmPlan } from '../../drivers/qemu/args.js';
import { aclAllows, type BridgeHost, helperCandidates, planBridge, tapName } from '../../drivers/qemu/bridge.js';
import { factory } from '../../drivers/qemu/driver.js';
import { qmp } from '../../drivers/qemu/qmp.js';
import { ensureSocketDir, maxSocketPath, shortSocketPath } from '../../drivers/qemu/socket-path.js';
import { silentLogger } from '../../src/core/log.js';
import type { Machine } from '../../src/core/lifecycle.js';
import { advertiseAddressOf } from '../../src/core/swarm.js';
import { VM_PLAN } from '../helpers/vm-plan.js';

const HELPER = '/usr/lib/qemu/qemu-bridge-helper';

function host(over: Partial<BridgeHost> & { conf?: Record<string, string | 'unreadable'> } = {}): BridgeHost {
  const { conf = { '/etc/qemu/bridge.conf': 'allow thbr0\n' }, ...rest } = over;
  return {
    platform: 'linux',
    isRoot: false,
    bridgeKind: async (name) => (name === 'thbr0' ? 'bridge' : name === 'eth0' ? 'other' : 'missing'),
    tunDevice: async () => true,
    ipProgram: async () => '/usr/sbin/ip',
    helper: async () => HELPER,
    helperPrivileged: async () => true,
    readText: async (path) => conf[path],
    ...rest,
  };
}

async function refused(promise: Promise<unknown>, code: string, message: RegExp, suggestion?: RegExp): Promise<void> {
  await assert.rejects(
    promise,
    (error: { code?: string; exitCode?: number; message: string; suggestions?: string[] }) => {
      assert.equal(error.code, code);
      assert.equal(error.exitCode, 3);
      assert.match(error.message, message);
      if (suggestion) assert.match((error.suggestions ?? []).join('\n'), suggestion);
      return true;
    },
  );
}

describe('qemu bridge network: the plan, checked before anything is created', () => {
  it('root: a tap QEMU opens, put on the bridge by moor with ip (no helper, no bridge.conf needed)', async () => {
    assert.deepEqual(await planBridge('thbr0', host({ isRoot: true, conf: {} })), {
      kind: 'tap',
      bridge: 'thbr0',
      ip: '/usr/sbin/ip',
    });
    await refused(
      planBridge('thbr0', host({ isRoot: true, ipProgram: async () => undefined })),
      'QEMU_BRIDGE_DENIED',
      /iproute2/,
    );
  });

  it('not root: qemu-bridge-helper when it is privileged and bridge.conf allows the bridge (includes, all, deny)', async () => {
    assert.deepEqual(await planBridge('thbr0', host()), { kind: 'helper', bridge: 'thbr0', helper: HELPER });
    const included = host({
      conf: { '/etc/qemu/bridge.conf': '# ACL\ninclude /etc/qemu/moor.conf\n', '/etc/qemu/moor.conf': 'allow all\n' },
    });
    assert.equal((await planBridge('thbr0', included)).kind, 'helper');
    assert.equal(aclAllows([{ rule: 'allow', name: 'thbr0' }], 'thbr0'), true);
    assert.equal(
      aclAllows(
        [
          { rule: 'allow', name: 'all' },
          { rule: 'deny', name: 'thbr0' },
        ],
        'thbr0',
      ),
      false,
      'a deny wins whatever the order',
    );
    assert.equal(aclAllows([{ rule: 'allow', name: 'br1' }], 'thbr0'), false);
    // A bridge.conf this user may not read (the helper reads it as root): the helper decides at boot.
    assert.equal((await planBridge('thbr0', host({ conf: { '/etc/qemu/bridge.conf': 'unreadable' } }))).kind, 'helper');
  });

  it('not root: the error names the bridge.conf line to add, or the helper to make setuid', async () => {
    await refused(
      planBridge('thbr0', host({ conf: {} })),
      'QEMU_BRIDGE_DENIED',
      /\/etc\/qemu\/bridge\.conf needs the line "allow thbr0"/,
      /echo "allow thbr0" >> \/etc\/qemu\/bridge\.conf/,
    );
    await refused(
      planBridge('thbr0', host({ conf: { '/etc/qemu/bridge.conf': 'allow br1\ndeny thbr0\nallow thbr0\n' } })),
      'QEMU_BRIDGE_DENIED',
      /needs the line "allow thbr0"/,
    );
    await refused(
      planBridge('thbr0', host({ helperPrivileged: async () => false })),
      'QEMU_BRIDGE_DENIED',
      /qemu-bridge-helper is not setuid root/,
      /chmod u\+s \/usr\/lib\/qemu\/qemu-bridge-helper[\s\S]*allow thbr0/,
    );
    await refused(planBridge('thbr0', host({ helper: async () => undefined })), 'QEMU_BRIDGE_DENIED', /not found/);
  });

  it('no such bridge, not a bridge, no /dev/net/tun, macOS: refused with what to do', async () => {
    await refused(
      planBridge('br9', host()),
      'QEMU_NO_BRIDGE',
      /no network interface "br9"/,
      /ip link add br9 type bridge/,
    );
    await refused(planBridge('eth0', host({ isRoot: true })), 'QEMU_NO_BRIDGE', /not a bridge/);
    await refused(planBridge('thbr0', host({ tunDevice: async () => false })), 'QEMU_BRIDGE_DENIED', /\/dev\/net\/tun/);
    await refused(
      planBridge('thbr0', host({ platform: 'darwin' })),
      'QEMU_BRIDGE_UNSUPPORTED',
      /Linux only: on macOS/,
      /--qemu-network user/,
    );
  });

  it("tap names: moor and the MAC's last three bytes, within Linux's 15 characters", () => {
    assert.equal(tapName('52:54:00:1a:2B:3c'), 'moor1a2b3c');
    assert.ok(tapName('52:54:00:ff:ff:ff').length <= 15);
    assert.deepEqual(helperCandidates('/opt/qemu/bin/qemu-system-x86_64').slice(0, 3), [
      '/opt/qemu/libexec/qemu-bridge-helper',
      '/opt/qemu/lib/qemu/qemu-bridge-helper',
      '/usr/lib/qemu/qemu-bridge-helper',
    ]);
  });

  it('QEMU arguments: the tap by name without scripts (root), the helper by path (not root)', () => {
    const plan: VmPlan = { ...VM_PLAN, network: { kind: 'tap', tap: 'moor123456' } };
    const netdev = (args: string[]) => args[args.indexOf('-netdev') + 1];
    assert.equal(netdev(qemuArgs(plan)), 'tap,id=net0,ifname=moor123456,script=no,downscript=no');
    assert.equal(
      netdev(qemuArgs({ ...plan, network: { kind: 'bridge', bridge: 'thbr0', helper: HELPER } })),
      `bridge,id=net0,br=thbr0,helper=${HELPER}`,
    );
  });
});

describe('QMP socket path under a long store path', () => {
  let dir: string;
  let server: Server | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'moor-qmp-path-'));
  });
  after(async () => {
    if (server) await new Promise((resolve) => server!.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const places = (runtimeDir?: string) => ({ platform: 'linux' as const, uid: 1000, runtimeDir, tmpDir: '/tmp' });

  it('kept in the machine folder when it fits; else a short name in the runtime folder, stable per machine', () => {
    assert.equal(shortSocketPath('/home/me/.moor/machines/dev/qmp.sock', places()), undefined);
    const long = `/home/me/${'very-long-folder/'.repeat(8)}machines/dev/qmp.sock`;
    assert.ok(Buffer.byteLength(long) > maxSocketPath('linux'));
    const short = shortSocketPath(long, places('/run/user/1000'))!;
    assert.match(short.path, /^\/run\/user\/1000\/moor\/qmp-[0-9a-f]{16}\.sock$/);
    assert.equal(short.dir, '/run/user/1000/moor');
    assert.deepEqual(shortSocketPath(long, places('/run/user/1000')), short, 'the same path at every start');
    assert.notEqual(shortSocketPath(long.replace('/dev/', '/dev2/'), places())!.path, short.path);
    assert.match(shortSocketPath(long, places())!.path, /^\/tmp\/moor-1000\/qmp-[0-9a-f]{16}\.sock$/);
    // A runtime folder itself too long: the next place that fits.
    assert.match(shortSocketPath(long, places(`/${'x'.repeat(120)}`))!.path, /^\/tmp\/moor-1000\//);
    assert.equal(maxSocketPath('darwin'), 103);
  });

  it('a QMP server bound at the short path of a 200-byte machine folder answers through it', async () => {
    const machineDir = join(dir, 'store-'.padEnd(200 - dir.length, 'x'), 'machines', 'dev');
    const uid = process.getuid?.() ?? 0;
    const short = shortSocketPath(join(machineDir, 'qmp.sock'), {
      platform: process.platform,
      uid,
      runtimeDir: join(dir, 'run'),
      tmpDir: tmpdir(),
    })!;
    assert.ok(short, 'the long path gets a short one');
    assert.ok(Buffer.byteLength(short.path) <= maxSocketPath(process.platform));
    await ensureSocketDir(short.dir, uid);
    assert.equal((await lstat(short.dir)).mode & 0o777, 0o700);
    server = createServer((socket) => {
      socket.write('{"QMP": {"version": {}, "capabilities": []}}\n');
      socket.on('data', (chunk) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const { execute } = JSON.parse(line) as { execute: string };
          socket.write(execute === 'query-status' ? '{"return": {"status": "running"}}\n' : '{"return": {}}\n');
        }
      });
    });
    await new Promise<void>((resolve) => server!.listen(short.path, resolve));
    assert.deepEqual(await qmp(short.path, 'query-status'), { status: 'running' });
  });
});

describe('swarm and the qemu networks', () => {
  const context = {
    machineName: 'dev',
    machineDir: '/m/dev',
    cacheDir: '/m/cache',
    log: silentLogger,
    env: {},
    withLock: <T>(_key: string, _options: unknown, fn: () => Promise<T>) => fn(),
    otherMachines: async () => [],
  };
  const flags = {
    'qemu-accel': 'auto',
    'qemu-disk-size': '20G',
    'qemu-memory': 2048,
    'qemu-cpu-count': 2,
    'qemu-stop-timeout': 60,
    'qemu-arch': 'x86_64',
  };
  const machine = (network: Record<string, string>) =>
    ({ record: { Name: 'dev' }, driver: factory.fromFlags(context, { ...flags, ...network }) }) as unknown as Machine;

  it('a machine on the user network is refused, and the message names the bridge network', async () => {
    await assert.rejects(
      advertiseAddressOf(machine({ 'qemu-network': 'user' })),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'SWARM_UNREACHABLE_ADDRESS');
        assert.match(error.message, /reachable only at 127\.0\.0\.1 \(user-mode networking/);
        assert.match((error as { suggestions?: string[] }).suggestions?.join('\n') ?? '', /qemu, the bridge network/);
        return true;
      },
    );
  });

  it("create refuses another qemu machine's bridge address before anything else", async () => {
    const withOther = {
      ...context,
      otherMachines: async () => [
        { name: 'web', dir: '/m/web', driverName: 'qemu', driverState: { IPAddress: '10.123.0.50' } },
      ],
    };
    const driver = factory.fromFlags(withOther, {
      ...flags,
      'qemu-binary': '/nonexistent/qemu-system-x86_64',
      'qemu-network': 'bridge=thbr0',
      'qemu-ip': '10.123.0.50/24',
    });
    await assert.rejects(driver.preCreateCheck(), {
      code: 'USAGE',
      message: '--qemu-ip 10.123.0.50 is the address of machine "web" already.',
    });
  });

  it('a machine on a bridge advertises its static address', async () => {
    const bridged = machine({
      'qemu-network': 'bridge=thbr0',
      'qemu-ip': '10.123.0.50/24',
      'qemu-gateway': '10.123.0.1',
    });
    assert.equal(await advertiseAddressOf(bridged), '10.123.0.50');
  });
});
