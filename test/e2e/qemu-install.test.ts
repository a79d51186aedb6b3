/**
 * The qemu driver the whole real way: a create with no driver and no engine flag on the image without
 * Docker, so that moor's provisioning installs Debian's docker.io inside the VM over SSH (apt-get through
 * QEMU's user network), then a container runs through the ssh transport. Slow under tcg (boot, then
 * `apt-get install docker.io`: about 4 minutes on an idle machine), so it is this file's only VM.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar } from '../helpers/image.js';
import { canRun } from '../helpers/prerequisites.js';
import { testHostsAvailable } from '../helpers/testhost.js';
import { vmImages, vmTestsMissing, type VmImages } from '../helpers/vm-image.js';
import { assertExit, TempStore } from './helpers.js';

const VM_STEP_MS = 25 * 60_000;

// testHostsAvailable: the images start from the test hosts' root file system (and run-tests.mjs leaves
// this file out of the other Node versions' runs, which start no VM).
void testHostsAvailable;

if (canRun('qemu driver: create with Docker installed by moor', vmTestsMissing())) {
  describe('qemu driver: create installs Docker (real QEMU, tcg)', () => {
    let store: TempStore;
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
        await store?.moor(['rm', '-y', '--force', 'apt']).catch(() => undefined);
        await store?.cleanup();
      },
      { timeout: VM_STEP_MS },
    );

    it(
      'moor create NAME with only an image: the engine is installed from Debian and runs a container',
      { timeout: VM_STEP_MS },
      async () => {
        const created = await store.moor(['create', '--qemu-image-url', images.base, '--ssh-timeout', '900', 'apt'], {
          timeoutMs: VM_STEP_MS,
        });
        assertExit(created, 0, 'create');
        assert.match(created.stderr, /using qemu, moor's default/);
        const version = await store.moor(['docker', 'apt', '--', 'version', '--format', '{{.Server.Version}}'], {
          timeoutMs: VM_STEP_MS,
        });
        assertExit(version, 0, 'docker version');
        assert.match(version.stdout.trim(), /^\d+\.\d+/);
        const imported = await store.moor(['docker', 'apt', '--', 'import', busybox, 'moor-test/busybox'], {
          timeoutMs: VM_STEP_MS,
        });
        assertExit(imported, 0, 'docker import');
        const hi = await store.moor(['docker', 'apt', '--', 'run', '--rm', 'moor-test/busybox', 'echo', 'hi'], {
          timeoutMs: VM_STEP_MS,
        });
        assertExit(hi, 0, 'docker run');
        assert.equal(hi.stdout.trim(), 'hi');
        const removed = await store.moor(['rm', '-y', 'apt'], { timeoutMs: VM_STEP_MS });
        assertExit(removed, 0, 'rm');
      },
    );
  });
}
