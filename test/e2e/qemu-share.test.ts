/**
 * The qemu driver's shared folders with real QEMU under tcg (one VM, the image with Docker and sshfs
 * preinstalled): a host folder given with --qemu-share-folder is seen by `docker run -v GUEST:/x` of a
 * locally imported image, a file a container writes appears on the host, the share comes back after
 * stop/start (a new agent), and rm leaves no agent or sftp-server process. Bad values fail before anything
 * exists (no VM needed).
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar } from '../helpers/image.js';
import { canRun } from '../helpers/prerequisites.js';
import { testHostsAvailable } from '../helpers/testhost.js';
import { vmImages, vmTestsMissing, type VmImages } from '../helpers/vm-image.js';
import { assertExit, exists, TempStore } from './helpers.js';

const VM_STEP_MS = 15 * 60_000;
const BOOT = ['--ssh-timeout', '600', '--qemu-accel', 'tcg'];

/** Pids of processes whose command line names `text` (the agent names the machine folder; QEMU its files). */
async function processesNaming(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) found.push(Number(entry));
  }
  return found;
}

/** Child processes of `pid` (the agent's sftp-servers). */
async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent === pid) found.push(Number(entry));
  }
  return found;
}

void testHostsAvailable; // the images start from the test hosts' root file system

let store: TempStore;

describe('qemu --qemu-share-folder: bad values fail before anything exists', () => {
  before(async () => {
    store = await TempStore.create();
  });
  after(async () => {
    await store.cleanup();
  });

  it('a missing host folder, a relative folder in the VM, two shares on one folder: exit 2, no machine', async () => {
    await mkdir(store.path('project'));
    for (const [value, message] of [
      [`${store.path('nope')}:/work`, /the host folder .*nope does not exist or is not a folder/],
      [`${store.path('project')}:work`, /the folder in the VM must be an absolute path/],
      [`${store.path('project')}:/etc`, /\/etc is a system folder of the VM/],
    ] as const) {
      const result = await store.moor(['create', '-d', 'qemu', '--qemu-share-folder', value, 'bad']);
      assertExit(result, 2, `create --qemu-share-folder ${value}`);
      assert.match(result.stderr, message);
      assert.equal(await exists(store.path('machines', 'bad')), false);
    }
    const twice = await store.moor(['create', '-d', 'qemu', 'bad'], {
      env: { MOOR_QEMU_SHARE_FOLDER: `${store.path('project')}:/work,${store.path('project')}:/work/` },
    });
    assertExit(twice, 2, 'create with MOOR_QEMU_SHARE_FOLDER naming /work twice');
    assert.match(twice.stderr, /the folder \/work in the VM is given twice/);
  });
});

if (canRun('qemu shared folders with real QEMU', vmTestsMissing())) {
  describe('qemu shared folders (real QEMU, tcg, reverse SSHFS)', () => {
    let images: VmImages;
    let busybox: string;
    let vmStore: TempStore;
    let project: string;
    const agentOf = () => processesNaming(`${vmStore.path('machines', 'share')}\0`);

    before(
      async () => {
        images = vmImages();
        vmStore = await TempStore.create();
        busybox = await buildBusyboxImageTar(vmStore.path());
        project = vmStore.path("my project's files");
        await mkdir(project);
      },
      { timeout: 45 * 60_000 },
    );
    after(
      async () => {
        await vmStore?.moor(['rm', '-y', '--force', 'share'], { timeoutMs: VM_STEP_MS }).catch(() => undefined);
        for (const pid of vmStore ? await processesNaming(`${vmStore.root}/`) : []) process.kill(pid, 'SIGKILL');
        await vmStore?.cleanup();
      },
      { timeout: VM_STEP_MS },
    );

    it(
      'a host file is seen by docker run -v GUEST:/x; a file written in the VM appears on the host',
      { timeout: VM_STEP_MS },
      async () => {
        const created = await vmStore.moor(
          [
            'create',
            '-d',
            'qemu',
            '--qemu-image-url',
            images.docker,
            '--engine-install-method',
            'none',
            '--qemu-share-folder',
            `${project}:/work`,
            ...BOOT,
            'share',
          ],
          { timeoutMs: VM_STEP_MS },
        );
        assertExit(created, 0, 'create with a shared folder');
        assert.match(created.stderr, /Mounting the shared folders \(.*my project's files on \/work\)/);
        const config = JSON.parse(await readFile(vmStore.path('machines', 'share', 'config.json'), 'utf8')) as {
          Driver: { Shares: unknown };
        };
        assert.deepEqual(config.Driver.Shares, [{ Host: project, Guest: '/work' }]);
        const [agent] = await agentOf();
        assert.ok(agent, 'the share agent runs after create');
        assert.equal((await childrenOf(agent)).length, 1, 'one sftp-server per share');

        await writeFile(`${project}/from-host.txt`, 'written on the host\n');
        const imported = await vmStore.moor(['docker', 'share', '--', 'import', busybox, 'moor-test/busybox'], {
          timeoutMs: VM_STEP_MS,
        });
        assertExit(imported, 0, 'docker import');
        const read = await vmStore.moor(
          ['docker', 'share', '--', 'run', '--rm', '-v', '/work:/x', 'moor-test/busybox', 'cat', '/x/from-host.txt'],
          { timeoutMs: VM_STEP_MS },
        );
        assertExit(read, 0, 'docker run -v /work:/x cat');
        assert.equal(read.stdout, 'written on the host\n');

        const wrote = await vmStore.moor(
          [
            'docker',
            'share',
            '--',
            'run',
            '--rm',
            '-v',
            '/work:/x',
            'moor-test/busybox',
            'sh',
            '-c',
            'mkdir -p /x/out && echo written in the VM > /x/out/from-vm.txt',
          ],
          { timeoutMs: VM_STEP_MS },
        );
        assertExit(wrote, 0, 'docker run -v /work:/x writing');
        assert.equal(await readFile(`${project}/out/from-vm.txt`, 'utf8'), 'written in the VM\n');
      },
    );

    it('stop ends the agent, start mounts the share again; rm leaves no agent', { timeout: VM_STEP_MS }, async () => {
      const [before] = await agentOf();
      const stopped = await vmStore.moor(['stop', 'share'], { timeoutMs: VM_STEP_MS });
      assertExit(stopped, 0, 'stop');
      assert.deepEqual(await agentOf(), [], 'no agent once the machine is stopped');

      await writeFile(`${project}/while-stopped.txt`, 'written while the machine was stopped\n');
      const started = await vmStore.moor(['start', 'share'], { timeoutMs: VM_STEP_MS });
      assertExit(started, 0, 'start');
      const [after] = await agentOf();
      assert.ok(after && after !== before, 'a new agent after start');
      const read = await vmStore.moor(
        [
          'docker',
          'share',
          '--',
          'run',
          '--rm',
          '-v',
          '/work:/x',
          'moor-test/busybox',
          'cat',
          '/x/while-stopped.txt',
          '/x/out/from-vm.txt',
        ],
        { timeoutMs: VM_STEP_MS },
      );
      assertExit(read, 0, 'docker run -v after start');
      assert.equal(read.stdout, 'written while the machine was stopped\nwritten in the VM\n');

      const sftpServers = await childrenOf(after);
      const removed = await vmStore.moor(['rm', '-y', 'share'], { timeoutMs: VM_STEP_MS });
      assertExit(removed, 0, 'rm');
      assert.deepEqual(await agentOf(), [], 'no agent after rm');
      for (const pid of [after, ...sftpServers]) {
        assert.equal(await exists(`/proc/${pid}`), false, `process ${pid} is gone`);
      }
      assert.equal(await exists(vmStore.path('machines', 'share')), false);
    });
  });
}
