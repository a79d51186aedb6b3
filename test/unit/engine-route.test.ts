/**
 * Choosing the way to a machine's engine once a channel to its socket failed: from what the host said
 * (the diagnosis script's output, run for real under sh here against sockets in a temp folder).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chooseEngineRoute, diagnosisScript, type EngineFacts, parseFacts } from '../../src/core/docker/remote.js';
import { MoorError } from '../../src/core/errors.js';

const FACTS: EngineFacts = {
  user: 'deploy',
  uid: '1000',
  socketExists: true,
  socketAccess: false,
  dockerCli: true,
  sudo: true,
};
const CONTEXT = {
  socket: '/var/run/docker.sock',
  configured: false,
  where: '10.0.0.5:22',
  forwardError: 'open failed',
};

function failure(facts: Partial<EngineFacts>, context: Partial<typeof CONTEXT> = {}): MoorError {
  try {
    chooseEngineRoute({ ...FACTS, ...facts }, { ...CONTEXT, ...context });
  } catch (error) {
    assert.ok(error instanceof MoorError);
    return error;
  }
  assert.fail('expected an error');
}

describe('engine route', () => {
  it('a sudo user outside the docker group goes through sudo -n docker system dial-stdio', () => {
    assert.deepEqual(chooseEngineRoute(FACTS, CONTEXT), {
      kind: 'exec',
      command: 'sudo -n docker system dial-stdio',
    });
    assert.deepEqual(chooseEngineRoute(FACTS, { ...CONTEXT, socket: "/run/my docker's.sock", configured: true }), {
      kind: 'exec',
      command: `sudo -n docker -H 'unix:///run/my docker'\\''s.sock' system dial-stdio`,
    });
  });

  it('a user with access whose forward was refused (sshd) relays through docker system dial-stdio', () => {
    assert.deepEqual(chooseEngineRoute({ ...FACTS, socketAccess: true }, CONTEXT), {
      kind: 'exec',
      command: 'docker system dial-stdio',
    });
    const error = failure({ socketAccess: true, dockerCli: false });
    assert.equal(error.code, 'ENGINE_SOCKET_FORWARD_REFUSED');
    assert.match(error.suggestions.join('\n'), /AllowStreamLocalForwarding yes/);
  });

  it('without sudo: not in the docker group, with the command that fixes it', () => {
    const error = failure({ sudo: false });
    assert.equal(error.code, 'ENGINE_SOCKET_DENIED');
    assert.equal(
      error.message,
      '"deploy" may not open /var/run/docker.sock on 10.0.0.5:22: it is not in the docker group and cannot use sudo without a password.',
    );
    assert.match(error.suggestions[0]!, /sudo usermod -aG docker deploy/);
  });

  it('no socket: a rootless engine of the user is used, unless a socket was configured', () => {
    const rootless = { socketExists: false, rootlessSocket: '/run/user/1000/docker.sock' };
    assert.deepEqual(chooseEngineRoute({ ...FACTS, ...rootless }, CONTEXT), {
      kind: 'socket',
      path: '/run/user/1000/docker.sock',
    });
    const configured = failure(rootless, { socket: '/srv/docker.sock', configured: true });
    assert.equal(configured.code, 'ENGINE_SOCKET_MISSING');
    assert.equal(configured.message, 'No Docker engine socket at /srv/docker.sock on 10.0.0.5:22.');
    const none = failure({ socketExists: false });
    assert.equal(
      none.message,
      `No Docker engine socket at /var/run/docker.sock on 10.0.0.5:22 (nor a rootless engine's for "deploy").`,
    );
    assert.match(none.suggestions.join('\n'), /--engine-socket PATH/);
  });

  describe('the diagnosis script', () => {
    let dir: string;
    let server: Server;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'moor-route-'));
      server = createServer();
      await new Promise<void>((resolve) => server.listen(join(dir, 'docker.sock'), resolve));
    });
    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    });

    const diagnose = (socket: string, env: Record<string, string> = {}) => {
      const result = spawnSync('sh', ['-c', diagnosisScript(socket)], {
        encoding: 'utf8',
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
      });
      assert.equal(result.status, 0, result.stderr);
      return parseFacts(result.stdout, 'fallback');
    };

    it('sees a socket it may open, and a rootless socket in XDG_RUNTIME_DIR', () => {
      const facts = diagnose(join(dir, 'docker.sock'), { XDG_RUNTIME_DIR: dir });
      assert.equal(facts.socketExists, true);
      assert.equal(facts.socketAccess, true);
      assert.equal(facts.rootlessSocket, join(dir, 'docker.sock'));
      assert.equal(facts.uid, String(process.getuid?.()));
      assert.notEqual(facts.user, 'fallback');
    });

    it('sees a missing socket, and quotes the path it is given', () => {
      const marker = join(dir, 'pwned');
      const facts = diagnose(`${dir}/no such $(touch ${marker}).sock`, { XDG_RUNTIME_DIR: join(dir, 'none') });
      assert.equal(facts.socketExists, false);
      assert.equal(facts.socketAccess, false);
      assert.equal(facts.rootlessSocket, undefined);
      assert.equal(spawnSync('test', ['-e', marker]).status, 1, 'the path was not run as a command');
    });
  });
});
