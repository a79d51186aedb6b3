/**
 * The generic driver end to end, as root on a fresh Debian 12 host (no Docker yet): create installs Debian's
 * docker.io over SSH and exposes it with TLS on 2376; env, the docker CLI, inspect, provision (idempotent), ssh,
 * version and rm (which leaves the host alone) all work against it.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildBusyboxImageTar } from '../helpers/image.js';
import { allocateIp, cleanupHosts, hostName, upHost, type TestHost } from '../helpers/testhost.js';
import {
  createGeneric,
  docker,
  dockerdPid,
  engineGet,
  hostEd25519Key,
  hostEngineVersion,
  hostOut,
  hostsOrPlaceholder,
  lsRow,
  machineEnv,
  show,
} from './generic-helpers.js';
import { assertExit, assertNoStackTrace, exists, modeOf, parseJson, TempStore } from './helpers.js';

const NAME = 'gen-root';

if (hostsOrPlaceholder('generic driver as root on a fresh Debian 12 host')) {
  describe('generic driver as root on a fresh Debian 12 host', () => {
    let host: TestHost;
    let store: TempStore;
    let created: Awaited<ReturnType<typeof createGeneric>>;
    /** The engine version as the host itself reports it, once create has installed it. */
    let version: string;
    let dockerEnv: Record<string, string>;

    before(
      async () => {
        store = await TempStore.create();
        host = await upHost({ name: hostName('gen-root'), ip: await allocateIp() });
        created = await createGeneric(store, NAME, host);
        if (created.code === 0) version = await hostEngineVersion(host);
      },
      { timeout: 600_000 },
    );
    after(async () => {
      await cleanupHosts();
      await store?.cleanup();
    });

    it('create exits 0, installs Docker on the host and says how to use it', () => {
      assertExit(created, 0, 'create');
      assert.equal(created.stdout, `Machine "${NAME}" created (generic driver).\n`);
      assert.match(created.stderr, new RegExp(`eval \\$\\(moor env ${NAME}\\)`));
      assertNoStackTrace(created.stderr);
      assert.match(version, /^\d+\.\d+\.\d+/);
    });

    it('keeps a 0600 copy of the key and a server certificate for the host IP in the machine folder', async () => {
      const dir = store.machineDir(NAME);
      assert.equal(await modeOf(join(dir, 'id_ssh')), 0o600);
      assert.deepEqual(await readFile(join(dir, 'id_ssh')), await readFile(host.keyPath));
      assert.equal(await modeOf(join(dir, 'server-key.pem')), 0o600);
      const cert = new X509Certificate(await readFile(join(dir, 'server.pem')));
      const sans = (cert.subjectAltName ?? '').split(', ');
      assert.ok(sans.includes(`IP Address:${host.ip}`), `server.pem SANs: ${cert.subjectAltName}`);
      const ca = new X509Certificate(await readFile(join(dir, 'ca.pem')));
      assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'server.pem is signed by the machine CA');
      // The host serves exactly these certificates.
      const local = await readFile(join(dir, 'server.pem'), 'utf8');
      assert.equal(await hostOut(host, 'cat /etc/docker/server.pem'), local.trim());
      assert.equal(await hostOut(host, "stat -c '%a %U' /etc/docker/server-key.pem"), '600 root');
    });

    it('ls shows it Running with the engine version in the DOCKER column', async () => {
      const ls = await store.moor(['ls']);
      assertExit(ls, 0, 'ls');
      const row = lsRow(ls.stdout, NAME);
      assert.equal(row['DRIVER'], 'generic');
      assert.equal(row['STATE'], 'Running');
      assert.equal(row['URL'], `tcp://${host.ip}:2376`);
      assert.equal(row['DOCKER'], `v${version}`);
      assert.equal(row['ERRORS'], '');
    });

    it('env points the docker CLI at the engine over TLS: version, import and run print what they should', async () => {
      dockerEnv = await machineEnv(store, NAME);
      assert.deepEqual(
        { ...dockerEnv },
        {
          DOCKER_TLS_VERIFY: '1',
          DOCKER_HOST: `tcp://${host.ip}:2376`,
          DOCKER_CERT_PATH: store.machineDir(NAME),
          DOCKER_MACHINE_NAME: NAME,
        },
      );
      const versionResult = await docker(['version', '--format', '{{.Server.Version}}'], dockerEnv);
      assertExit(versionResult, 0, 'docker version');
      assert.equal(versionResult.stdout.trim(), version);

      const tar = await buildBusyboxImageTar(store.path('image'));
      const imported = await docker(['import', tar, 'moor-test/busybox'], dockerEnv);
      assertExit(imported, 0, 'docker import');
      assert.match(imported.stdout, /^sha256:[0-9a-f]{64}\n$/);
      const ran = await docker(['run', '--rm', 'moor-test/busybox', 'echo', 'hi'], dockerEnv);
      assertExit(ran, 0, 'docker run');
      assert.equal(ran.stdout, 'hi\n');
      // It ran on the host, not somewhere else.
      assert.match(await hostOut(host, "docker image ls --format '{{.Repository}}'"), /^moor-test\/busybox$/m);
    });

    it('the engine port answers only clients with a certificate of the machine CA', async () => {
      const url = `tcp://${host.ip}:2376`;
      const dir = store.machineDir(NAME);
      const [ca, cert, key] = await Promise.all(
        ['ca.pem', 'cert.pem', 'key.pem'].map((file) => readFile(join(dir, file))),
      );
      // With the machine's client certificate (and the host IP checked against server.pem's SANs): OK.
      assert.deepEqual(await engineGet(url, '/_ping', { ca: ca!, cert: cert!, key: key! }), {
        status: 200,
        body: 'OK',
      });
      // TLS without a client certificate: the engine ends the handshake.
      await assert.rejects(engineGet(url, '/_ping', { ca: ca! }), (error: Error & { code?: string }) => {
        assert.match(`${error.code} ${error.message}`, /certificate|alert|ECONNRESET|socket hang up/i);
        return true;
      });
      // Plain HTTP: refused too (and the docker CLI says so).
      const plain = await docker(['version', '--format', '{{.Server.Version}}'], { DOCKER_HOST: url });
      assert.notEqual(plain.code, 0, `plain HTTP was answered:\n${show(plain)}`);
      assert.match(plain.stderr, /HTTP request to an HTTPS server/, show(plain));
    });

    it("inspect shows the host's real ed25519 host key as the pinned key", async () => {
      const result = await store.moor(['inspect', '-f', '{{.SSHHostKey}}', NAME]);
      assertExit(result, 0, 'inspect');
      assert.equal(result.stdout.trim(), await hostEd25519Key(host));
    });

    it('provision again is a no-op: "already up to date", changed false, dockerd not restarted', async () => {
      const pidBefore = await dockerdPid(host);
      assert.ok(pidBefore > 0, 'dockerd runs');
      const again = await store.moor(['provision', NAME]);
      assertExit(again, 0, 'provision');
      assert.equal(again.stdout, `${NAME}: Docker ${version} already up to date\n`);
      const json = await store.moor(['provision', '--json', NAME]);
      assertExit(json, 0, 'provision --json');
      const [result] = parseJson<{ name: string; changed: boolean; engineVersion: string; hostKey: string }[]>(json);
      assert.equal(result?.name, NAME);
      assert.equal(result?.changed, false);
      assert.equal(result?.engineVersion, version);
      assert.equal(result?.hostKey, await hostEd25519Key(host));
      assert.equal(await dockerdPid(host), pidBefore, 'dockerd was restarted by a no-op provision');
    });

    it('provision starts the engine again when it was stopped on the host', async () => {
      await hostOut(host, 'systemctl stop docker.socket docker.service');
      assert.equal(await dockerdPid(host), 0);
      const result = await store.moor(['provision', '--json', NAME]);
      assertExit(result, 0, 'provision');
      assert.equal(parseJson<{ changed: boolean }[]>(result)[0]?.changed, true);
      assert.ok((await dockerdPid(host)) > 0, 'dockerd runs again');
      const versionResult = await docker(['version', '--format', '{{.Server.Version}}'], dockerEnv);
      assertExit(versionResult, 0, 'docker version after provision');
    });

    it('ssh NAME -- CMD runs it on the host and exits with its status; stdin reaches it', async () => {
      const result = await store.moor(['ssh', NAME, '--', 'echo remote; hostname; exit 3']);
      assertExit(result, 3, 'ssh -- cmd');
      assert.equal(result.stdout, `remote\n${NAME}\n`);
      assertNoStackTrace(result.stderr);
      const piped = await store.moor(['ssh', NAME, '--', 'tr a-z A-Z'], { input: 'piped text\n' });
      assertExit(piped, 0, 'ssh -- tr');
      assert.equal(piped.stdout, 'PIPED TEXT\n');
    });

    it('ssh NAME -- CMD leaves stdout and stderr to the remote command (no progress lines of its own)', async () => {
      const result = await store.moor(['ssh', NAME, '--', 'echo out; echo err >&2']);
      assertExit(result, 0, 'ssh -- cmd');
      assert.equal(result.stdout, 'out\n');
      assert.equal(result.stderr, 'err\n');
    });

    it('ssh NAME without a command opens a shell that reads piped stdin and exits with its status', async () => {
      const result = await store.moor(['ssh', NAME], { input: 'echo pty-ok; exit 7\n' });
      assertExit(result, 7, 'ssh (shell)');
      // The shell echoes the typed line too (a PTY): "pty-ok" alone on a line is the command's own output.
      assert.match(result.stdout, /^pty-ok\r?$/m, show(result));
    });

    it('version NAME prints the engine version', async () => {
      const result = await store.moor(['version', NAME]);
      assertExit(result, 0, 'version');
      assert.equal(result.stdout, `${version}\n`);
    });

    it('rm -y forgets the machine and leaves the host and its engine alone', async () => {
      const result = await store.moor(['rm', '-y', NAME]);
      assertExit(result, 0, 'rm');
      assert.equal(result.stdout, `Successfully removed ${NAME}\n`);
      assert.equal(await exists(store.machineDir(NAME)), false);
      const ls = await store.moor(['ls', '-q']);
      assert.equal(ls.stdout, '');
      assert.equal(await hostOut(host, 'systemctl is-active docker.service'), 'active');
      assert.equal(await hostEngineVersion(host), version);
      assert.match(await hostOut(host, "docker image ls --format '{{.Repository}}'"), /^moor-test\/busybox$/m);
      assert.ok((await host.exec('test -f /etc/docker/daemon.json')).code === 0);
    });
  });
}
