/**
 * Smoke test of the test-host harness (test/e2e/testhost/testhost.sh via test/helpers/testhost.ts): one
 * disposable Debian 12 host, reached over real ssh as root, docker (passwordless sudo) and nosudo, then removed.
 * Skips with the reason when the machine cannot run test hosts (not root, no systemd-nspawn/debootstrap),
 * and fails instead under CI, which must run it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar, listImageTar } from '../helpers/image.js';
import { allocateIp, cleanupHosts, hostName, testhostScript, upHost, type TestHost } from '../helpers/testhost.js';
import { hostsOrPlaceholder } from './generic-helpers.js';

function sshAnswers(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, timeout: 2000 });
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('SSH-'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

if (hostsOrPlaceholder('test hosts (systemd-nspawn Debian 12)')) {
  describe('test hosts (systemd-nspawn Debian 12)', () => {
    let host: TestHost;

    before(
      async () => {
        host = await upHost({ name: hostName('smoke'), ip: await allocateIp(), sshPort: 2222 });
      },
      { timeout: 600_000 }, // the first run builds the cached rootfs (~1 min)
    );
    after(() => cleanupHosts(), { timeout: 120_000 });

    it('is a Debian 12 host that root reaches over ssh on its own port', async () => {
      assert.match(host.ip, /^10\.123\.0\.\d+$/);
      const result = await host.ssh('. /etc/os-release && echo "$ID $VERSION_ID" && hostname && id -u');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `debian 12\n${host.name}\n0\n`);
    });

    it('has a docker user with passwordless sudo and a nosudo user without', async () => {
      const docker = await host.ssh('sudo -n true && id -un', 'docker');
      assert.equal(docker.code, 0, docker.stderr);
      assert.equal(docker.stdout.trim(), 'docker');
      const nosudo = await host.ssh('sudo -n true', 'nosudo');
      assert.notEqual(nosudo.code, 0);
      assert.match(nosudo.stderr, /password is required/);
    });

    it('runs commands inside the host without ssh, under systemd', async () => {
      const result = await host.exec('systemctl is-active ssh.service && ps -p 1 -o comm=');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'active\nsystemd\n');
      assert.equal((await host.exec('exit 3')).code, 3);
    });

    it('builds the busybox image tarball for docker import', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'moor-image-'));
      try {
        const entries = await listImageTar(await buildBusyboxImageTar(dir));
        for (const file of ['./bin/busybox', './bin/sh', './bin/echo', './bin/cat', './bin/sleep']) {
          assert.ok(entries.includes(file), `${file} in ${entries.join(' ')}`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('down removes the host', { timeout: 120_000 }, async () => {
      await host.down();
      assert.equal(await sshAnswers(host.ip, host.sshPort), false);
      const list = await testhostScript(['list']);
      assert.doesNotMatch(list.stdout, new RegExp(`^${host.name} `, 'm'));
    });
  });
}
