/**
 * The qemu driver with real QEMU under tcg (KVM hangs or is missing on these machines), booting the locally
 * built cloud-style images (test/helpers/vm-image.ts) passed with --qemu-image-url: the default driver on
 * the user network with the ssh transport and Docker preinstalled (--engine-install-method none), a
 * container of a locally imported image, a second machine beside it, stop/start with the disk kept (a stale
 * pid file and a taken port handled), kill, rm; a wrong image checksum (nothing boots); a boot that never
 * reaches SSH (a timeout quoting the console, nothing left running).
 * VMs under tcg are slow (SSH after 60-75 s on an idle machine): each step has its own generous limit, and
 * the steps run one after the other (two VMs at once only to show that they can).
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar } from '../helpers/image.js';
import { canRun } from '../helpers/prerequisites.js';
import { testHostsAvailable } from '../helpers/testhost.js';
import { vmImages, vmTestsMissing, type VmImages } from '../helpers/vm-image.js';
import { assertExit, exists, TempStore } from './helpers.js';

const VM_STEP_MS = 15 * 60_000;
const BOOT = ['--ssh-timeout', '600'];

/** Pids of QEMU processes whose command line names a file in `folder`: what a test left running. */
async function qemuProcesses(folder: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('qemu-system') || cmdline.includes('/qemu-system-')) {
      if (cmdline.includes(`${folder}/`)) found.push(Number(entry));
    }
  }
  return found;
}

let store: TempStore;

async function driverState(name: string): Promise<Record<string, unknown>> {
  const config = JSON.parse(await readFile(store.path('machines', name, 'config.json'), 'utf8')) as {
    Driver: Record<string, unknown>;
  };
  return config.Driver;
}

// testHostsAvailable: the images start from the test hosts' root file system (and run-tests.mjs leaves
// this file out of the other Node versions' runs, which start no VM).
void testHostsAvailable;

if (canRun('qemu driver with real QEMU', vmTestsMissing())) {
  describe('qemu driver (real QEMU, tcg)', () => {
    let images: VmImages;
    let busybox: string;

    before(
      async () => {
        images = vmImages();
        store = await TempStore.create();
        busybox = await buildBusyboxImageTar(store.path());
      },
      { timeout: 45 * 60_000 },
    );
    after(
      async () => {
        for (const name of ['dev', 'dev2', 'badsum', 'noboot']) {
          await store?.moor(['rm', '-y', '--force', name]).catch(() => undefined);
        }
        for (const pid of store ? await qemuProcesses(store.root) : []) process.kill(pid, 'SIGKILL');
        await store?.cleanup();
      },
      { timeout: VM_STEP_MS },
    );

    it(
      'moor create with no driver: qemu, user network, ssh transport; a container runs on the engine',
      { timeout: VM_STEP_MS },
      async () => {
        const created = await store.moor(
          ['create', '--qemu-image-url', images.docker, '--engine-install-method', 'none', ...BOOT, 'dev'],
          { timeoutMs: VM_STEP_MS },
        );
        assertExit(created, 0, 'create');
        assert.match(created.stderr, /No driver given .*using qemu, moor's default/);
        assert.match(created.stderr, /moor docker dev -- ps/, 'the ssh transport: no TCP port to point DOCKER_HOST at');
        const config = JSON.parse(await readFile(store.path('machines', 'dev', 'config.json'), 'utf8')) as {
          DriverName: string;
          Driver: Record<string, unknown>;
          HostOptions: { EngineOptions: { Transport?: string } };
        };
        assert.equal(config.DriverName, 'qemu');
        assert.equal(config.HostOptions.EngineOptions.Transport, 'ssh');
        assert.equal(config.Driver['LastAccel'], 'tcg');
        const port = config.Driver['SSHPort'] as number;
        const ls = await store.moor(['ls', '--format', '{{.Name}} {{.DriverName}} {{.State}} {{.URL}}']);
        assertExit(ls, 0, 'ls');
        assert.equal(ls.stdout.trim(), `dev qemu Running ssh://docker@127.0.0.1:${port}`);
        assert.equal((await qemuProcesses(store.path('machines', 'dev'))).length, 1);
        // The engine's configuration came with the seed, written at the first boot before dockerd started:
        // provisioning found it in place, so dockerd started once, with it, and was never restarted.
        const boot = await store.moor([
          'ssh',
          'dev',
          '--',
          "sudo journalctl -b -u moor-engine-config -o cat --no-pager | grep -c '^moor: wrote: /etc/docker/daemon.json';" +
            " sudo journalctl -b -u docker.service -o cat --no-pager | grep -c '^Starting docker' || true;" +
            " sudo journalctl -b -u docker.service -o cat --no-pager | grep -c '^Stopping docker' || true;" +
            " sudo docker info --format '{{json .Labels}}'",
        ]);
        assertExit(boot, 0, 'ssh: the first boot and the engine');
        assert.deepEqual(boot.stdout.trim().split('\n'), ['1', '1', '0', '["provider=qemu"]'], boot.stdout);

        const imported = await store.moor(['docker', 'dev', '--', 'import', busybox, 'moor-test/busybox'], {
          timeoutMs: VM_STEP_MS,
        });
        assertExit(imported, 0, 'docker import');
        const hi = await store.moor(['docker', 'dev', '--', 'run', '--rm', 'moor-test/busybox', 'echo', 'hi'], {
          timeoutMs: VM_STEP_MS,
        });
        assertExit(hi, 0, 'docker run');
        assert.equal(hi.stdout.trim(), 'hi');
        const marked = await store.moor(['ssh', 'dev', '--', 'echo kept | sudo tee /var/tmp/moor-marker']);
        assertExit(marked, 0, 'ssh');
      },
    );

    it('a second machine runs beside the first: its own ports, its own engine', { timeout: VM_STEP_MS }, async () => {
      const created = await store.moor(
        ['create', '-d', 'qemu', '--qemu-image-url', images.docker, '--engine-install-method', 'none', ...BOOT, 'dev2'],
        { timeoutMs: VM_STEP_MS },
      );
      assertExit(created, 0, 'create of a second machine');
      assert.notEqual((await driverState('dev2'))['SSHPort'], (await driverState('dev'))['SSHPort']);
      const ls = await store.moor(['ls', '--format', '{{.Name}} {{.State}}']);
      assert.equal(ls.stdout.trim(), 'dev Running\ndev2 Running');
      const names = await Promise.all(
        ['dev', 'dev2'].map((name) => store.moor(['ssh', name, '--', 'hostname'], { timeoutMs: VM_STEP_MS })),
      );
      assert.deepEqual(
        names.map((result) => result.stdout.trim()),
        ['dev', 'dev2'],
      );
      const info = await store.moor(['docker', 'dev2', '--', 'info', '--format', '{{.Name}}'], {
        timeoutMs: VM_STEP_MS,
      });
      assertExit(info, 0, 'docker info on the second machine');
      assert.equal(info.stdout.trim(), 'dev2');
      const removed = await store.moor(['rm', '-y', 'dev2'], { timeoutMs: VM_STEP_MS });
      assertExit(removed, 0, 'rm of the second machine');
      assert.deepEqual(await qemuProcesses(store.path('machines', 'dev2')), []);
      assert.equal((await qemuProcesses(store.path('machines', 'dev'))).length, 1, 'the first one still runs');
    });

    it(
      'stop (ACPI over QMP), start (the same disk and data; a stale pid file and a taken port handled), kill, rm',
      { timeout: VM_STEP_MS },
      async () => {
        const stopped = await store.moor(['stop', 'dev'], { timeoutMs: VM_STEP_MS });
        assertExit(stopped, 0, 'stop');
        assert.deepEqual(await qemuProcesses(store.path('machines', 'dev')), []);
        assert.equal((await store.moor(['status', 'dev'])).stdout.trim(), 'Stopped');

        // What a crash or another program leaves behind: a pid file naming a live process that is not this
        // machine's QEMU (this test's own), and the SSH port taken by another listener.
        const oldPort = (await driverState('dev'))['SSHPort'] as number;
        await writeFile(store.path('machines', 'dev', 'qemu.pid'), `${process.pid}\n`);
        const squatter = createServer();
        await new Promise<void>((resolve) => squatter.listen(oldPort, '127.0.0.1', resolve));
        let started;
        try {
          started = await store.moor(['start', 'dev'], { timeoutMs: VM_STEP_MS });
        } finally {
          await new Promise((resolve) => squatter.close(resolve));
        }
        assertExit(started, 0, 'start');
        assert.match(started.stderr, new RegExp(`Port ${oldPort} \\(SSH\\) is taken now: using 127\\.0\\.0\\.1:\\d+`));
        assert.notEqual((await driverState('dev'))['SSHPort'], oldPort);
        assert.equal((await store.moor(['status', 'dev'])).stdout.trim(), 'Running');
        const marker = await store.moor(['ssh', 'dev', '--', 'cat /var/tmp/moor-marker']);
        assertExit(marker, 0, 'ssh after start');
        assert.equal(marker.stdout.trim(), 'kept');
        const images = await store.moor(['docker', 'dev', '--', 'images', '--format', '{{.Repository}}'], {
          timeoutMs: VM_STEP_MS,
        });
        assertExit(images, 0, 'docker images after start');
        assert.match(images.stdout, /^moor-test\/busybox$/m);

        const killed = await store.moor(['kill', 'dev'], { timeoutMs: VM_STEP_MS });
        assertExit(killed, 0, 'kill');
        assert.deepEqual(await qemuProcesses(store.path('machines', 'dev')), []);
        assert.equal((await store.moor(['status', 'dev'])).stdout.trim(), 'Stopped');

        const removed = await store.moor(['rm', '-y', 'dev'], { timeoutMs: VM_STEP_MS });
        assertExit(removed, 0, 'rm');
        assert.equal(await exists(store.path('machines', 'dev')), false);
      },
    );

    it('a wrong image checksum fails before any VM starts', { timeout: VM_STEP_MS }, async () => {
      const result = await store.moor(
        [
          'create',
          '-d',
          'qemu',
          '--qemu-image-url',
          images.docker,
          '--qemu-image-checksum',
          'a'.repeat(64),
          '--engine-install-method',
          'none',
          'badsum',
        ],
        { timeoutMs: VM_STEP_MS },
      );
      assertExit(result, 1, 'create with a wrong checksum');
      assert.match(result.stderr, /does not match its checksum: expected SHA-256 a{64}/);
      assert.deepEqual(await qemuProcesses(store.path('machines', 'badsum')), []);
      assert.equal(await exists(store.path('machines', 'badsum', 'qemu.pid')), false);
      assert.equal(await exists(store.path('machines', 'badsum', 'disk.qcow2')), false);
    });

    it(
      'a boot that never reaches SSH: a timeout quoting the console, nothing left running',
      { timeout: VM_STEP_MS },
      async () => {
        const result = await store.moor(
          ['create', '-d', 'qemu', '--qemu-image-url', images.noboot, '--ssh-timeout', '45', 'noboot'],
          { timeoutMs: VM_STEP_MS },
        );
        assertExit(result, 7, 'create of an image that never boots');
        assert.match(result.stderr, /SSH server did not answer within 45 s of QEMU starting; QEMU was stopped/);
        assert.match(result.stderr, /The console's last lines:[\s\S]*moor-test: this disk has no operating system/);
        assert.match(result.stderr, /console\.log/);
        assert.deepEqual(await qemuProcesses(store.path('machines', 'noboot')), []);
        const removed = await store.moor(['rm', '-y', 'noboot']);
        assertExit(removed, 0, 'rm of the failed machine');
      },
    );
  });
}
