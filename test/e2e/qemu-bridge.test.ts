/**
 * The qemu driver's bridge network with real QEMU under tcg, on the test hosts' bridge (thbr0,
 * 10.123.0.0/24): one VM (a tcg boot takes minutes: one VM for every check) with a static address from
 * allocateIp() and the tls transport, booting the cached image with Docker preinstalled. As root, moor makes
 * the tap itself. The store path is long (over a unix socket path's limit), so the QMP socket's short path
 * is used by real QEMU too. Checked: the VM's own address (cloud-init matched the NIC by MAC), `moor ip`,
 * `moor docker` over TLS to that address, a test host on the same bridge reaching the VM's SSH and engine
 * ports, stop/start keeping the address, and rm leaving no tap and no QEMU process.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { notYet, waitFor } from '../../src/core/wait.js';
import { canRun } from '../helpers/prerequisites.js';
import { allocateIp, cleanupHosts, hostName, type TestHost, upHost } from '../helpers/testhost.js';
import { vmImages, vmTestsMissing } from '../helpers/vm-image.js';
import { assertExit, exists, type RunOptions, TempStore } from './helpers.js';

const VM_STEP_MS = 15 * 60_000;
const BRIDGE = 'thbr0';
const GATEWAY = '10.123.0.1';
const NAME = 'br';

/** Pids of QEMU processes whose command line names a file in `folder`. */
async function qemuProcesses(folder: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if ((cmdline.startsWith('qemu-system') || cmdline.includes('/qemu-system-')) && cmdline.includes(`${folder}/`)) {
      found.push(Number(entry));
    }
  }
  return found;
}

/** The bridge a network interface is on ('' when none), or undefined when it does not exist. */
async function masterOf(iface: string): Promise<string | undefined> {
  if (!(await exists(`/sys/class/net/${iface}`))) return undefined;
  const link = await import('node:fs/promises').then((fs) =>
    fs.readlink(`/sys/class/net/${iface}/master`).catch(() => ''),
  );
  return link.split('/').pop() ?? '';
}

if (canRun('qemu bridge network with real QEMU', vmTestsMissing())) {
  describe("qemu driver on a bridge (real QEMU, tcg, the test hosts' bridge)", () => {
    let store: TempStore;
    let storage: string;
    let docker: string;
    let vmIp: string;
    let host: TestHost;
    let tap: string;
    const moor = (args: string[], options: RunOptions = {}) =>
      store.moor(args, { timeoutMs: VM_STEP_MS, ...options, env: { MOOR_STORAGE_PATH: storage } });
    const machineDir = () => join(storage, 'machines', NAME);
    /** A TCP connection from inside the test host to the VM: the first bytes the port sends (bash's /dev/tcp). */
    const fromHost = (port: number) =>
      host.exec(
        `timeout 20 bash -c 'exec 3<>/dev/tcp/${vmIp}/${port} && echo connected && timeout 3 head -c 7 <&3' || true`,
      );

    before(
      async () => {
        docker = vmImages().docker;
        store = await TempStore.create();
        // Longer than a unix socket path may be: the QMP socket must get its short path.
        storage = store.path('a-store-path-long-enough'.padEnd(90, '-'), 'moor');
        await mkdir(storage, { recursive: true });
        assert.ok(Buffer.byteLength(join(storage, 'machines', NAME, 'qmp.sock')) > 107);
        vmIp = await allocateIp();
        const hostIp = await allocateIp();
        // The test host brings the bridge up and keeps it up while the VM uses it.
        host = await upHost({ name: hostName('qbridge'), ip: hostIp });
      },
      { timeout: 45 * 60_000 },
    );
    after(
      async () => {
        await moor(['rm', '-y', '--force', NAME]).catch(() => undefined);
        for (const pid of store ? await qemuProcesses(store.root) : []) process.kill(pid, 'SIGKILL');
        await cleanupHosts();
        await store?.cleanup();
      },
      { timeout: VM_STEP_MS },
    );

    it(
      `create on bridge=${BRIDGE} with a static address and tls: ip, url, docker over TLS, reached from a test host`,
      { timeout: VM_STEP_MS },
      async () => {
        const created = await moor([
          'create',
          '-d',
          'qemu',
          '--qemu-accel',
          'tcg',
          '--qemu-network',
          `bridge=${BRIDGE}`,
          '--qemu-ip',
          `${vmIp}/24`,
          '--qemu-gateway',
          GATEWAY,
          '--qemu-image-url',
          docker,
          '--engine-install-method',
          'none',
          '--ssh-timeout',
          '600',
          NAME,
        ]);
        assertExit(created, 0, 'create on the bridge');
        const config = JSON.parse(await readFile(join(machineDir(), 'config.json'), 'utf8')) as {
          Driver: Record<string, unknown>;
          HostOptions: { EngineOptions: { Transport?: string } };
        };
        assert.equal(config.HostOptions.EngineOptions.Transport, 'tls', "the bridge network's default transport");
        tap = `moor${String(config.Driver['MAC']).replace(/:/g, '').slice(-6)}`;
        assert.match(created.stderr, new RegExp(`Putting the tap ${tap} on bridge ${BRIDGE}`));
        assert.equal(await masterOf(tap), BRIDGE, 'the tap is on the bridge');
        assert.equal((await qemuProcesses(machineDir())).length, 1);
        // The QMP socket has a short path, linked from the machine's folder, and status reads it.
        const qmpLink = await import('node:fs/promises').then((fs) => fs.readlink(join(machineDir(), 'qmp.sock')));
        assert.ok(Buffer.byteLength(qmpLink) <= 107, qmpLink);
        assert.equal((await moor(['status', NAME])).stdout.trim(), 'Running');

        assert.equal((await moor(['ip', NAME])).stdout.trim(), vmIp);
        assert.equal((await moor(['url', NAME])).stdout.trim(), `tcp://${vmIp}:2376`);
        const env = await moor(['env', NAME]);
        assert.match(env.stdout, new RegExp(`DOCKER_HOST="tcp://${vmIp.replace(/\./g, '\\.')}:2376"`));
        const version = await moor(['docker', NAME, '--', 'version', '--format', '{{.Server.Os}}']);
        assertExit(version, 0, 'moor docker over TLS');
        assert.equal(version.stdout.trim(), 'linux');
        // cloud-init gave the NIC (matched by its MAC, renamed eth0) the static address.
        const addr = await moor(['ssh', NAME, '--', 'ip -4 -o addr show dev eth0']);
        assertExit(addr, 0, 'ssh to the bridge address');
        assert.match(addr.stdout, new RegExp(`inet ${vmIp.replace(/\./g, '\\.')}/24`));

        // Another machine on the bridge (a test host in its own network namespace) reaches the VM.
        const ssh = await fromHost(22);
        assert.match(
          ssh.stdout,
          /connected\nSSH-2\.0/,
          `the test host reaches the VM's SSH:\n${ssh.stdout}${ssh.stderr}`,
        );
        const engine = await fromHost(2376);
        assert.match(engine.stdout, /connected/, `the test host reaches the VM's engine port:\n${engine.stderr}`);
      },
    );

    it(
      'stop removes the tap; start keeps the address; rm leaves no tap and no QEMU',
      { timeout: VM_STEP_MS },
      async () => {
        assertExit(await moor(['stop', NAME]), 0, 'stop');
        assert.deepEqual(await qemuProcesses(machineDir()), []);
        assert.equal(await masterOf(tap), undefined, 'the tap went with QEMU');

        assertExit(await moor(['start', NAME]), 0, 'start');
        assert.equal(await masterOf(tap), BRIDGE);
        assert.equal((await moor(['ip', NAME])).stdout.trim(), vmIp);
        // start returns once SSH answers; under tcg dockerd comes up some seconds later (as after a reboot).
        const info = await waitFor(
          async () => {
            const result = await moor(['docker', NAME, '--', 'info', '--format', '{{.Name}}']);
            return result.code === 0 ? result : notYet(result.stderr.trim());
          },
          { what: 'the engine after start', timeoutMs: 5 * 60_000, maxDelayMs: 5_000 },
        );
        assert.equal(info.stdout.trim(), NAME);
        assert.match((await fromHost(22)).stdout, /SSH-2\.0/, 'the test host reaches the VM after start');

        assertExit(await moor(['rm', '-y', NAME]), 0, 'rm');
        assert.deepEqual(await qemuProcesses(machineDir()), []);
        assert.equal(await masterOf(tap), undefined, 'no tap left');
        assert.equal(await exists(machineDir()), false);
      },
    );
  });
}
