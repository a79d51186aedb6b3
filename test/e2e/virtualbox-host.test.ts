/**
 * The virtualbox driver's whole lifecycle up to a running Docker engine. What is real: the built moor CLI,
 * the driver, the seed ISO it writes, SSH provisioning and the Docker engine (a Debian 12 test host at
 * 10.123.0.x with docker.io). What is faked: VirtualBox. The fake VBoxManage plays the VM: on `startvm` it
 * relays the NAT port-forward moor chose (127.0.0.1:<port>) to the test host's sshd, and plays cloud-init by
 * installing the SSH key it reads from the seed ISO (isoinfo) for the seed's user; power-off stops the relay.
 * The static host-only address cannot exist here, so the machine uses `--engine-transport ssh` (Docker API
 * over that same SSH endpoint).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAKE_VBOXMANAGE, FakeVBox } from '../helpers/fake-vbox.js';
import { allocateIp, cleanupHosts, hostName, TESTHOST_SCRIPT, upHost, type TestHost } from '../helpers/testhost.js';
import { hostEngineVersion, hostsOrPlaceholder } from './generic-helpers.js';
import { assertExit, TempStore } from './helpers.js';
import { writeFile } from 'node:fs/promises';

const NAME = 'vbox-e2e';

if (hostsOrPlaceholder('virtualbox driver up to a running engine')) {
  describe('virtualbox driver up to a running engine (fake VirtualBox, real host)', () => {
    let host: TestHost;
    let store: TempStore;
    let fake: FakeVBox;
    let env: Record<string, string>;
    let created: Awaited<ReturnType<TempStore['moor']>>;

    before(
      async () => {
        store = await TempStore.create();
        fake = await FakeVBox.create();
        host = await upHost({ name: hostName('vbox'), ip: await allocateIp(), withDocker: true });
        const image = store.path('image.vmdk');
        await writeFile(image, 'fake image\n');
        env = {
          FAKE_VBOX_DIR: fake.dir,
          FAKE_VBOX_GUEST: `${host.ip}:22`,
          FAKE_VBOX_GUEST_EXEC: JSON.stringify(['bash', TESTHOST_SCRIPT, 'exec', host.name]),
          MOOR_VIRTUALBOX_VBOXMANAGE: FAKE_VBOXMANAGE,
        };
        created = await store.moor(
          ['create', '-d', 'virtualbox', '--virtualbox-image-url', image, '--engine-transport', 'ssh', NAME],
          { env, timeoutMs: 300_000 },
        );
      },
      { timeout: 600_000 },
    );
    after(async () => {
      fake?.stopRelays();
      await cleanupHosts();
      await store?.cleanup();
    });

    it('create exits 0 after provisioning over the forwarded SSH port with the key from the seed', async () => {
      assertExit(created, 0, 'create');
      assert.equal(created.stdout, `Machine "${NAME}" created (virtualbox driver).\n`);
      const vm = fake.state().vms[NAME]!;
      assert.equal(vm.state, 'running');
      const config = await store.moor([
        'inspect',
        '-f',
        '{{.Driver.SSHPort}} {{.Driver.IPAddress}} {{.Driver.SSHUser}}',
        NAME,
      ]);
      const [port, ip, user] = config.stdout.trim().split(' ');
      assert.deepEqual(vm.natpf, [`ssh,tcp,127.0.0.1,${port},,22`]);
      assert.equal(ip, '192.168.56.2');
      assert.equal(user, 'docker');
    });

    it('moor docker reaches the engine running on the host', async () => {
      const version = await store.moor(['docker', NAME, '--', 'version', '--format', '{{.Server.Version}}'], { env });
      assertExit(version, 0, 'moor docker version');
      assert.equal(version.stdout.trim(), await hostEngineVersion(host));
      const ls = await store.moor(['ls', '--format', '{{.Name}} {{.DriverName}} {{.State}} {{.DockerVersion}}'], {
        env,
      });
      assert.equal(ls.stdout.trim(), `${NAME} virtualbox Running v${await hostEngineVersion(host)}`);
    });

    it('stop, start and ip: the VM stops (ACPI), starts again with the same static address, and Docker answers', async () => {
      const stop = await store.moor(['stop', NAME], { env, timeoutMs: 120_000 });
      assertExit(stop, 0, 'stop');
      const status = await store.moor(['status', NAME], { env });
      assert.equal(status.stdout.trim(), 'Stopped');
      const start = await store.moor(['start', NAME], { env, timeoutMs: 120_000 });
      assertExit(start, 0, 'start');
      const ip = await store.moor(['ip', NAME], { env });
      assert.equal(ip.stdout.trim(), '192.168.56.2');
      const version = await store.moor(['docker', NAME, '--', 'version', '--format', '{{.Server.Version}}'], { env });
      assertExit(version, 0, 'moor docker version after start');
      const calls = fake.calls().map((call) => call.slice(0, 3).join(' '));
      assert.ok(calls.includes(`controlvm ${NAME} acpipowerbutton`));
      assert.equal(calls.filter((call) => call.startsWith(`startvm ${NAME}`)).length, 2);
    });

    it('rm -y powers the VM off and unregisters it', async () => {
      const rm = await store.moor(['rm', '-y', NAME], { env, timeoutMs: 120_000 });
      assertExit(rm, 0, 'rm');
      assert.deepEqual(fake.calls().slice(-3), [
        ['showvminfo', NAME, '--machinereadable'],
        ['controlvm', NAME, 'poweroff'],
        ['unregistervm', NAME, '--delete'],
      ]);
      assert.deepEqual(fake.state().vms, {});
    });
  });
}
