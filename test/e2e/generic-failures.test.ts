/**
 * How the generic driver fails: a key the host does not accept, an address where nothing answers, a host
 * whose SSH host key changed since it was pinned, and a private key that others can read. Each failure is
 * quick, names what is wrong, exits with the documented code and prints no stack trace.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import { createGeneric, hostEd25519Key, hostOut, hostsOrPlaceholder, lsRow } from './generic-helpers.js';
import { assertCleanError, assertExit, exists, TempStore } from './helpers.js';

const execFileP = promisify(execFile);

if (hostsOrPlaceholder('generic driver failures')) {
  describe('generic driver failures', () => {
    let host: TestHost;
    let store: TempStore;
    /** An allocated test-network address with no host behind it (reserved, so no other test takes it). */
    let nobodyIp: string;

    before(
      async () => {
        store = await TempStore.create();
        const [ip, spare] = [await allocateIp(), await allocateIp()];
        nobodyIp = spare;
        host = await upHost({ name: hostName('gen-fail'), ip, withDocker: true });
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    it('a key the host does not accept: fails at once, naming the user and the key; record in Error', async () => {
      const dir = store.path('wrong-key');
      await mkdir(dir, { recursive: true });
      const key = join(dir, 'id_ed25519');
      await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'not-authorized', '-f', key]);
      // The default --ssh-timeout (300 s) applies: retried, the authentication failure would end in a timeout
      // (exit 7) or outlast the harness, so exit 1 with its message shows that it failed at once.
      const result = await createGeneric(store, 'wrong-key', host, { key });
      assertCleanError(
        result,
        1,
        'Creating machine "wrong-key" failed',
        `${host.ip}:22 refused to log in user "root"`,
        'public key authentication failed',
        'authorized_keys',
      );
      assert.match(result.stderr, /moor's copy: \S*id_ssh\b/, 'names the key it used');
      const ls = await store.moor(['ls']);
      assert.equal(lsRow(ls.stdout, 'wrong-key')['STATE'], 'Error');
      // Nothing happened on the host.
      assert.notEqual((await host.exec('test -e /etc/docker/server.pem')).code, 0);
    });

    it('a key the host does not accept: the message names the key file the user gave', async () => {
      const key = store.path('wrong-key', 'id_ed25519');
      const result = await createGeneric(store, 'wrong-key-2', host, { key });
      assertExit(result, 1);
      assert.ok(result.stderr.includes(`with key ${key} (moor's copy: `), result.stderr);
      assert.ok(result.stderr.includes(`the public key of ${key} is in ~root/.ssh/authorized_keys`), result.stderr);
      assert.ok(result.stderr.includes(`ssh -i ${key}`), result.stderr);
    });

    it('an address where nothing answers, with --ssh-timeout 3: exit 7 (timeout) within seconds', async () => {
      const result = await createGeneric(store, 'nobody', host, {
        ip: nobodyIp,
        extra: ['--ssh-timeout', '3'],
        timeoutMs: 60_000,
      });
      assertCleanError(result, 7, 'Timed out after 3 s waiting for SSH on', `${nobodyIp}:22`);
      const ls = await store.moor(['ls']);
      const row = lsRow(ls.stdout, 'nobody');
      assert.equal(row['STATE'], 'Error');
      assert.match(row['ERRORS'] ?? '', /Timed out/);
    });

    it('a private key readable by others is refused before connecting: exit 3, "chmod 600", no record', async () => {
      const key = store.path('open-key');
      await copyFile(host.keyPath, key);
      await chmod(key, 0o644);
      // Aimed at the address where nothing answers: had moor tried to connect, it would wait out the timeout.
      const result = await createGeneric(store, 'open-key', host, {
        ip: nobodyIp,
        key,
        extra: ['--ssh-timeout', '30'],
      });
      assertCleanError(result, 3, `SSH private key ${key}`, '(mode 0644)', `chmod 600 ${key}`);
      assert.doesNotMatch(result.stderr, /Waiting for SSH/);
      assert.equal(await exists(store.machineDir('open-key')), false);
    });

    describe('a changed host key', () => {
      let pinned: string;

      before(
        async () => {
          const created = await createGeneric(store, 'rekeyed', host);
          assertExit(created, 0, 'create rekeyed');
          pinned = (await store.moor(['inspect', '-f', '{{.SSHHostKey}}', 'rekeyed'])).stdout.trim();
          assert.equal(pinned, await hostEd25519Key(host));
          await host.regenHostKeys();
          assert.notEqual(await hostEd25519Key(host), pinned, 'regen-hostkeys made a new key');
        },
        { timeout: 180_000 },
      );

      it('provision refuses at once, naming the machine and suggesting --repin-host-key', async () => {
        // The default --ssh-timeout is 300 s: retried, it would end in a timeout (exit 7), not exit 1.
        const result = await store.moor(['provision', 'rekeyed']);
        assertCleanError(
          result,
          1,
          'The SSH host key of machine "rekeyed"',
          `(${host.ip}:22) has changed`,
          'moor provision --repin-host-key rekeyed',
        );
        assert.equal(result.stdout, '');
        const still = await store.moor(['inspect', '-f', '{{.SSHHostKey}}', 'rekeyed']);
        assert.equal(still.stdout.trim(), pinned, 'the pin is unchanged');
      });

      it('ssh refuses too, without running the command', async () => {
        const result = await store.moor(['ssh', 'rekeyed', '--', 'touch /tmp/moor-ran']);
        assertCleanError(result, 1, 'host key of machine "rekeyed"');
        assert.notEqual((await host.exec('test -e /tmp/moor-ran')).code, 0, 'the command ran');
      });

      it('provision --repin-host-key succeeds and pins the new key; ssh works again', async () => {
        const result = await store.moor(['provision', '--repin-host-key', 'rekeyed']);
        assertExit(result, 0, 'provision --repin-host-key');
        assert.match(result.stdout, /^rekeyed: Docker \S+ (already up to date|provisioned)\n$/);
        const now = (await store.moor(['inspect', '-f', '{{.SSHHostKey}}', 'rekeyed'])).stdout.trim();
        assert.notEqual(now, pinned);
        assert.equal(now, await hostEd25519Key(host));
        const ssh = await store.moor(['ssh', 'rekeyed', '--', 'echo ok']);
        assertExit(ssh, 0, 'ssh after repin');
        assert.equal(ssh.stdout, 'ok\n');
        assert.equal(await hostOut(host, 'hostname'), 'rekeyed');
      });
    });
  });
}
