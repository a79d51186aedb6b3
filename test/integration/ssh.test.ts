/**
 * moor's SSH client against a real OpenSSH server (test/helpers/sshd.ts) on 127.0.0.1: commands, uploads,
 * forwarding, shells, host key pinning, authentication failures and waiting for a server to come up.
 * Needs Debian's openssh-server; without it these tests are skipped, except in CI where they fail.
 * How many channels the client opens at once is shown against an SSH server in this process
 * (test/helpers/ssh-server.ts), which holds commands and counts channels: no sshd needed, no timing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ExitCode, MoorError, TimeoutError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/log.js';
import {
  checkPrivateKey,
  connect,
  fingerprint,
  generateKeyPair,
  shellQuote,
  type SSHSession,
  type SSHTarget,
} from '../../src/core/ssh/index.js';
import { type InProcessSshServer, startSshServer } from '../helpers/ssh-server.js';
import { skipOutsideCI } from '../helpers/prerequisites.js';
import { authorizeKey, LOOPBACK, reservePort, type SshdHandle, sshdMissingReason, startSshd } from '../helpers/sshd.js';

const run = promisify(execFile);
const missing = sshdMissingReason();
// CI installs openssh-server: there a missing sshd fails the suite (startSshd says what to install).
const skip = skipOutsideCI(missing);

function targetOf(sshd: SshdHandle, extra: Partial<SSHTarget> = {}): SSHTarget {
  return { host: LOOPBACK, port: sshd.port, user: sshd.user, privateKeyPath: sshd.clientKeyPath, ...extra };
}

/**
 * A Logger that records what it was told; `onDebug` sees each debug line as it comes (connect() logs one
 * per failed attempt, before it waits for the next: a test can act on the client's retries through it).
 */
function recordingLogger(
  onDebug?: (line: string, count: number) => void,
): Logger & { steps: string[]; debugs: string[] } {
  const steps: string[] = [];
  const debugs: string[] = [];
  return {
    steps,
    debugs,
    step: (m) => steps.push(m),
    info() {},
    warn() {},
    debug(m) {
      debugs.push(m);
      onDebug?.(m, debugs.length);
    },
  };
}

/**
 * Asserts that `promise` rejects with a MoorError of `code`, and returns it. Where a test says "at once" or
 * "not retried", the budget given to connect() is far longer than the test's timeout would allow a retry
 * loop, and a retry would end in TIMEOUT instead of `code`, so the outcome shows it without a stopwatch.
 */
async function rejection(promise: Promise<unknown>, code: string): Promise<{ error: MoorError }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof MoorError, `expected a MoorError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return { error };
  }
  assert.fail(`expected a MoorError ${code}, but it resolved`);
}

/** Writes `data` into a forwarded stream, half-closes it, and collects what comes back until the end. */
async function roundTrip(stream: Duplex, data: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  stream.end(data);
  await ended;
  return Buffer.concat(chunks);
}

function echoServer(): Server {
  return createServer((socket) => socket.pipe(socket));
}

/** Listens on a Unix socket path, or on 127.0.0.1 with a free port. */
async function listen(server: Server, socketPath?: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (socketPath) server.listen(socketPath, resolve);
    else server.listen(0, LOOPBACK, resolve);
  });
}

/**
 * The timeouts below only turn a hang into a failure: they are far above what the tests take, because a
 * loaded CI machine (or a developer's, busy with builds) runs them many times slower.
 */
const HANG_MS = 600_000;

describe('SSH client against a real sshd', { skip, timeout: HANG_MS }, () => {
  let sshd: SshdHandle;
  let session: SSHSession;
  let work: string;

  before(async () => {
    sshd = await startSshd();
    work = await mkdtemp(join(tmpdir(), 'moor-ssh-test-'));
    session = await connect(targetOf(sshd), { timeoutMs: 10_000 });
  });

  after(async () => {
    await session?.close();
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  describe('exec', () => {
    it('collects stdout and stderr and reports exit codes without throwing', async () => {
      assert.deepEqual(await session.exec('echo out; echo err >&2'), { code: 0, stdout: 'out\n', stderr: 'err\n' });
      assert.deepEqual(await session.exec('echo out; echo err >&2; exit 3'), {
        code: 3,
        stdout: 'out\n',
        stderr: 'err\n',
      });
    });

    it('reports a command killed by a signal', async () => {
      const result = await session.exec('kill -TERM $$');
      assert.equal(result.signal, 'SIGTERM');
      assert.equal(result.code, 128 + 15);
    });

    it('pipes stdin, text and binary, and closes it', async () => {
      assert.equal((await session.exec('cat', { stdin: 'hello\nworld' })).stdout, 'hello\nworld');
      const data = randomBytes(2_000_000);
      const result = await session.exec('sha256sum', { stdin: data });
      assert.equal(result.stdout.split(' ')[0], createHash('sha256').update(data).digest('hex'));
      // No stdin option: the command sees end of file at once instead of hanging.
      assert.equal((await session.exec('wc -c')).stdout.trim(), '0');
    });

    it('streams large output through the callbacks and collects it too (5 MB)', async () => {
      let streamed = 0;
      let chunks = 0;
      const result = await session.exec("head -c 5000000 /dev/zero | tr '\\0' a; echo done >&2", {
        onStdout: (chunk) => {
          streamed += chunk.length;
          chunks += 1;
        },
        onStderr: (chunk) => assert.equal(chunk.toString(), 'done\n'),
      });
      assert.equal(result.code, 0);
      assert.equal(result.stdout.length, 5_000_000);
      assert.match(result.stdout, /^a+$/);
      assert.equal(streamed, 5_000_000);
      assert.ok(chunks > 1, 'output arrives in several chunks');
    });

    it('exports env variables, quoted', async () => {
      const value = `a b'c $(echo no) \`x\` "q"`;
      const result = await session.exec('printf %s "$MOOR_A:$MOOR_B"', { env: { MOOR_A: value, MOOR_B: '' } });
      assert.equal(result.stdout, `${value}:`);
    });

    it('allocates a PTY on request', async () => {
      assert.match((await session.exec('tty', { pty: true })).stdout, /\/dev\/pts\//);
      assert.equal((await session.exec('tty')).code, 1, 'no PTY by default');
    });
  });

  describe('upload', () => {
    it('writes content with the given mode, creating the folder', async () => {
      const path = join(work, 'upload', 'new dir', "it's.conf");
      await session.upload(path, 'hello\n', 0o640);
      assert.equal((await stat(path)).mode & 0o7777, 0o640);
      assert.equal((await session.exec(`cat ${shellQuote(path)}`)).stdout, 'hello\n');
      await session.upload(path, 'secret', 0o600, { sudo: true }); // root: no sudo needed, none used
      assert.equal((await stat(path)).mode & 0o7777, 0o600);
      assert.equal((await session.exec(`stat -c %a ${shellQuote(path)}`)).stdout.trim(), '600');
    });

    it('round-trips binary content', async () => {
      const path = join(work, 'upload', 'blob.bin');
      const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(1_000_000)]);
      await session.upload(path, data, 0o755);
      const result = await session.exec(`sha256sum ${shellQuote(path)}; stat -c %a ${shellQuote(path)}`);
      const [sum, mode] = result.stdout.trim().split('\n');
      assert.equal(sum?.split(' ')[0], createHash('sha256').update(data).digest('hex'));
      assert.equal(mode, '755');
    });

    it('replaces the file atomically (rename), leaving no temporary files', async () => {
      const dir = join(work, 'atomic');
      const path = join(dir, 'daemon.json');
      await session.upload(path, 'old', 0o644);
      // A second name for the old inode: rewriting in place would change it, a rename does not.
      await run('ln', [path, join(dir, 'old-link')]);
      await session.upload(path, 'new', 0o644);
      assert.equal((await session.exec(`cat ${shellQuote(path)}`)).stdout, 'new');
      assert.equal((await session.exec(`cat ${shellQuote(join(dir, 'old-link'))}`)).stdout, 'old');
      assert.equal((await session.exec(`ls -A ${shellQuote(dir)}`)).stdout, 'daemon.json\nold-link\n');
    });

    it('fails with SSH_UPLOAD_FAILED, leaving nothing behind', async () => {
      const dir = join(work, 'upload-fail');
      await writeFile(join(work, 'a-file'), 'x');
      const { error } = await rejection(
        session.upload(join(work, 'a-file', 'x.conf'), 'x', 0o644),
        'SSH_UPLOAD_FAILED',
      );
      assert.match(error.message, /a-file\/x\.conf/);
      await session.exec(`mkdir -p ${shellQuote(dir)} && chmod 500 ${shellQuote(dir)}`);
      // Root ignores directory permissions, so make the final rename fail instead: the target is a folder.
      await session.exec(`mkdir -p ${shellQuote(join(dir, 'target', 'inside'))}`);
      await rejection(session.upload(join(dir, 'target'), 'x', 0o644), 'SSH_UPLOAD_FAILED');
      assert.equal((await session.exec(`ls -A ${shellQuote(dir)}`)).stdout, 'target\n');
    });
  });

  describe('forwarding', () => {
    it('forwards to a Unix socket on the remote', async () => {
      const socketPath = join(work, 'echo.sock');
      const server = echoServer();
      await listen(server, socketPath);
      try {
        const data = Buffer.concat([Buffer.from('ping\n'), randomBytes(1_000_000)]);
        assert.ok((await roundTrip(await session.forwardToUnixSocket(socketPath), data)).equals(data));
        // Several streams at once over the same connection.
        const many = await Promise.all(
          Array.from({ length: 12 }, async (_, i) =>
            (await roundTrip(await session.forwardToUnixSocket(socketPath), Buffer.from(`n${i}`))).toString(),
          ),
        );
        assert.deepEqual(
          many,
          Array.from({ length: 12 }, (_, i) => `n${i}`),
        );
      } finally {
        server.close();
      }
    });

    it('fails with SSH_FORWARD_FAILED for a missing socket', async () => {
      const { error } = await rejection(session.forwardToUnixSocket(join(work, 'missing.sock')), 'SSH_FORWARD_FAILED');
      assert.match(error.message, /missing\.sock/);
    });

    it('forwards to a TCP port as seen from the remote', async () => {
      const server = echoServer();
      await listen(server);
      try {
        const { port } = server.address() as AddressInfo;
        const data = randomBytes(500_000);
        assert.ok((await roundTrip(await session.forwardToTcp(LOOPBACK, port), data)).equals(data));
        const closedPort = await reservePort();
        await rejection(session.forwardToTcp(LOOPBACK, closedPort), 'SSH_FORWARD_FAILED');
      } finally {
        server.close();
      }
    });
  });

  it('runs an interactive shell on a PTY and resolves with its exit code', async () => {
    const stdout = new PassThrough();
    let output = '';
    stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await session.shell({
      stdin: Readable.from(['echo h""i; exit 7\n']),
      stdout,
      stderr: stdout,
      term: 'dumb',
      rows: 30,
      cols: 100,
    });
    assert.equal(code, 7);
    assert.match(output, /\bhi\r?\n/, 'the output of echo, not only the echoed input');
  });

  describe('host keys', () => {
    it('exposes the host key seen (trust on first use), with its OpenSSH fingerprint', async () => {
      assert.equal(session.hostKey, sshd.hostKeyPublic);
      const pub = join(work, 'host.pub');
      await writeFile(pub, `${session.hostKey} comment\n`);
      const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub]);
      assert.equal(fingerprint(session.hostKey), stdout.split(' ')[1]);
    });

    it('accepts the pinned key (as a key line or a fingerprint); refuses a changed one at once', async () => {
      const own = await startSshd();
      try {
        const original = own.hostKeyPublic;
        for (const pin of [`${original} a-comment`, fingerprint(original)]) {
          const pinned = await connect(targetOf(own, { hostKey: pin }), { timeoutMs: 10_000 });
          assert.equal(pinned.hostKey, original);
          await pinned.close();
        }
        const replaced = await own.regenerateHostKey();
        const log = recordingLogger();
        // Failed at once: a retry would log a debug line and end in TIMEOUT after a minute.
        const { error } = await rejection(
          connect(targetOf(own, { hostKey: original, machineName: 'web-1' }), { timeoutMs: 60_000, log }),
          'HOST_KEY_CHANGED',
        );
        assert.deepEqual(log.debugs, [], 'no retry');
        assert.match(error.message, /"web-1"/);
        assert.ok(error.message.includes(fingerprint(original)), error.message);
        assert.ok(error.message.includes(fingerprint(replaced)), error.message);
        assert.ok(error.suggestions.some((text) => text.includes('moor provision --repin-host-key web-1')));
        // Trust on first use sees the new key.
        const tofu = await connect(targetOf(own), { timeoutMs: 10_000 });
        assert.equal(tofu.hostKey, replaced);
        await tofu.close();
      } finally {
        await own.stop();
      }
    });
  });

  describe('connection failures', () => {
    it('fails fast with SSH_AUTH_FAILED for a key the server does not accept', async () => {
      const otherKey = join(work, 'other_key');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
      const log = recordingLogger();
      const { error } = await rejection(
        connect(targetOf(sshd, { privateKeyPath: otherKey }), { timeoutMs: 60_000, log }),
        'SSH_AUTH_FAILED',
      );
      assert.deepEqual(log.debugs, [], 'no retry: failed at once');
      assert.ok(error.message.includes(`"${sshd.user}"`), error.message);
      assert.ok(error.message.includes(otherKey), error.message);
      assert.ok(error.message.includes(`${LOOPBACK}:${sshd.port}`), error.message);
      assert.ok(error.suggestions.some((text) => text.includes('authorized_keys')));
    });

    it('retries a refused port until the timeout, then throws TimeoutError (exit 7)', async () => {
      const port = await reservePort();
      const log = recordingLogger();
      const started = performance.now();
      const error = await connect(targetOf(sshd, { port }), { timeoutMs: 1_500, log }).then(
        () => assert.fail('connected to a closed port'),
        (thrown: unknown) => thrown,
      );
      const ms = performance.now() - started;
      assert.ok(error instanceof TimeoutError, String(error));
      assert.equal(error.exitCode, ExitCode.timeout);
      // Not before the budget ran out (a slow machine only makes this longer).
      assert.ok(ms >= 1_500, `gave up after ${ms} ms`);
      assert.ok(error.message.includes(`connection refused by ${LOOPBACK}:${port}`), error.message);
      assert.ok(error.message.includes('1.5 s'), error.message);
      assert.deepEqual(log.steps, [`Waiting for SSH on ${LOOPBACK}:${port} (${sshd.user})...`]);
      assert.ok(log.debugs.length >= 2, `retried: ${log.debugs.join(' | ')}`);
    });

    it('waits for a server that starts later', async () => {
      const port = await reservePort();
      // The server starts once the client was refused twice, and the client must then get in on its next
      // attempt: the client's own retries are the clock.
      let starting: Promise<SshdHandle> | undefined;
      let refusedBeforeStart = 0;
      const refusals = (lines: string[]) =>
        lines.filter((line) => line.includes(`connection refused by ${LOOPBACK}:${port}`)).length;
      const log = recordingLogger((_line, count) => {
        if (starting || count < 2) return;
        starting = startSshd({ port, clientKeyPath: sshd.clientKeyPath }).then((handle) => {
          refusedBeforeStart = refusals(log.debugs);
          return handle;
        });
      });
      try {
        const lateSession = await connect(targetOf(sshd, { port }), { timeoutMs: 60_000, log });
        assert.equal((await lateSession.exec('echo up')).stdout, 'up\n');
        await lateSession.close();
        assert.ok(starting, 'connected before the server was started');
        await starting;
        assert.ok(refusedBeforeStart >= 2, log.debugs.join('\n'));
        // At most the attempt that was under way when sshd began to listen was refused after that.
        assert.ok(refusals(log.debugs) - refusedBeforeStart <= 1, log.debugs.join('\n'));
        assert.equal(log.steps.length, 1);
      } finally {
        await (await starting?.catch(() => undefined))?.stop();
      }
    });

    it('can be cancelled with an AbortSignal', async () => {
      const port = await reservePort();
      // Aborted while it waits to retry a refused port; without the abort it would end in TIMEOUT.
      const controller = new AbortController();
      const log = recordingLogger(() => controller.abort());
      await rejection(
        connect(targetOf(sshd, { port }), { timeoutMs: 60_000, signal: controller.signal, log }),
        'ABORTED',
      );
      assert.equal(log.debugs.length, 1, 'no attempt after the abort');
    });

    it('reports a dropped connection as SSH_CONNECTION_LOST', async () => {
      const own = await startSshd();
      try {
        // No keepalives: only the closed socket can tell the client that the connection is gone.
        const dropped = await connect(targetOf(own), { timeoutMs: 10_000, keepaliveIntervalMs: 0 });
        let output!: () => void;
        const producing = new Promise<void>((resolve) => (output = resolve));
        // Writes on: once its connection is gone, SIGPIPE ends it (a plain sleep would outlive the test).
        const running = rejection(
          dropped.exec('while :; do echo .; sleep 0.1; done', { onStdout: () => output() }),
          'SSH_CONNECTION_LOST',
        );
        await producing; // the command runs
        assert.ok((await own.dropConnections()) >= 1);
        const { error } = await running;
        assert.match(error.message, /was lost/);
        await rejection(dropped.exec('true'), 'SSH_CONNECTION_LOST');
        await dropped.close();
      } finally {
        await own.stop();
      }
    });

    it('refuses use after close', async () => {
      const closing = await connect(targetOf(sshd), { timeoutMs: 10_000 });
      await closing.close();
      await closing.close();
      await rejection(closing.exec('true'), 'SSH_CONNECTION_LOST');
    });
  });

  describe('keys', () => {
    it('checkPrivateKey refuses a key readable by others, and a missing one', async () => {
      const key = join(work, 'loose_key');
      await copyFile(sshd.clientKeyPath, key);
      await chmod(key, 0o644);
      const { error } = await rejection(checkPrivateKey(key), 'SSH_KEY_PERMISSIONS');
      assert.ok(error.message.includes(`chmod 600 ${key}`), error.message);
      // connect() checks before any network traffic: the port is closed, so an attempt to connect would be
      // logged and retried until TIMEOUT.
      const log = recordingLogger();
      await rejection(
        connect(targetOf(sshd, { privateKeyPath: key, port: await reservePort() }), { timeoutMs: 60_000, log }),
        'SSH_KEY_PERMISSIONS',
      );
      assert.deepEqual(log.steps, [], 'no attempt to connect');
      await chmod(key, 0o600);
      await checkPrivateKey(key);
      await rejection(checkPrivateKey(join(work, 'no_such_key')), 'SSH_KEY_MISSING');
    });

    it('refuses a passphrase-protected key with SSH_KEY_ENCRYPTED', async () => {
      const key = join(work, 'encrypted_key');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', key]);
      const { error } = await rejection(connect(targetOf(sshd, { privateKeyPath: key })), 'SSH_KEY_ENCRYPTED');
      assert.match(error.suggestions.join(' '), /passphrase/);
    });

    it('generateKeyPair writes an OpenSSH ed25519 pair with safe modes that sshd accepts', async () => {
      const dir = join(work, 'generated', 'keys');
      const { privateKeyPath, publicKey } = await generateKeyPair(dir, 'id_moor');
      assert.equal(privateKeyPath, join(dir, 'id_moor'));
      assert.match(publicKey, /^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ /);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      assert.equal((await stat(privateKeyPath)).mode & 0o777, 0o600);
      assert.equal((await stat(`${privateKeyPath}.pub`)).mode & 0o777, 0o644);
      // OpenSSH reads it and derives the same public key.
      const { stdout } = await run('ssh-keygen', ['-y', '-f', privateKeyPath]);
      assert.equal(stdout.trim().split(' ').slice(0, 2).join(' '), publicKey.split(' ').slice(0, 2).join(' '));
      await authorizeKey(sshd, publicKey);
      const generated = await connect(targetOf(sshd, { privateKeyPath }), { timeoutMs: 10_000 });
      assert.equal((await generated.exec('echo "$USER"')).stdout.trim(), sshd.user);
      await generated.close();
    });
  });
});

describe('SSH channel limit against MaxSessions', { skip, timeout: HANG_MS }, () => {
  let sshd: SshdHandle;

  before(async () => {
    sshd = await startSshd({ maxSessions: 10 }); // OpenSSH's default
  });
  after(async () => {
    await sshd?.stop();
  });

  it('completes more concurrent commands than MaxSessions: the session queues them', async () => {
    const session = await connect(targetOf(sshd), { timeoutMs: 10_000 });
    try {
      const results = await Promise.all(Array.from({ length: 25 }, (_, i) => session.exec(`sleep 0.1; echo ${i}`)));
      assert.deepEqual(
        results.map((result) => [result.code, result.stdout]),
        Array.from({ length: 25 }, (_, i) => [0, `${i}\n`]),
      );
    } finally {
      await session.close();
    }
  });
});

/**
 * How many channels the session opens at once, shown by an SSH server in this process that holds every
 * command until the test lets it go and counts what is open: no sleeps, no timing.
 */
describe('SSH channel limit, against an SSH server that holds every command', { timeout: HANG_MS }, () => {
  const servers: InProcessSshServer[] = [];
  const sessions: SSHSession[] = [];
  after(async () => {
    for (const server of servers) server.release();
    for (const session of sessions) await session.close();
    for (const server of servers) await server.stop();
  });

  async function serverAndSession(
    options: { maxSessions?: number; maxChannels?: number } = {},
  ): Promise<{ server: InProcessSshServer; session: SSHSession }> {
    const server = await startSshServer(options.maxSessions === undefined ? {} : { maxSessions: options.maxSessions });
    servers.push(server);
    const target = { host: server.host, port: server.port, user: server.user, privateKeyPath: server.clientKeyPath };
    const session = await connect(target, {
      timeoutMs: 10_000,
      ...(options.maxChannels === undefined ? {} : { maxChannels: options.maxChannels }),
    });
    sessions.push(session);
    return { server, session };
  }

  it('runs 20 commands at once over one connection, at most 8 channels at a time', async () => {
    const { server, session } = await serverAndSession();
    const results = Promise.all(Array.from({ length: 20 }, (_, i) => session.exec(`echo ${i}`)));
    // Eight commands run at once, held by the server: they ran concurrently.
    await server.until((stats) => stats.running === 8);
    // A forwarding request sent now reaches the server after every channel the session has asked for so far
    // (one connection, in order): while eight commands are held, the other twelve must still wait.
    await rejection(session.forwardToTcp(LOOPBACK, 1), 'SSH_FORWARD_FAILED');
    assert.deepEqual(server.openAtForward, [8], 'channels open when eight commands were held');
    server.release();
    const done = await results;
    assert.deepEqual(
      done.map((result) => [result.code, result.stdout.split(' via ')[0]]),
      Array.from({ length: 20 }, (_, i) => [0, `echo ${i}`]),
    );
    const connections = new Set(done.map((result) => result.stdout.trim().split(' via ')[1]));
    assert.equal(connections.size, 1, 'every command ran over the same connection (same client port)');
    assert.equal(server.stats.connections, 1);
    assert.equal(server.stats.sessions, 20);
    assert.equal(server.stats.refused, 0);
    assert.equal(server.stats.mostRunning, 8, `at most 8 at once, saw ${server.stats.mostRunning}`);
  });

  it('without that limit the server refuses channels (why the limiter exists)', async () => {
    // MaxSessions 10, OpenSSH's default; the session would open 14 channels at once.
    const { server, session } = await serverAndSession({ maxSessions: 10, maxChannels: 14 });
    const settled = Promise.allSettled(Array.from({ length: 14 }, (_, i) => session.exec(`echo ${i}`)));
    await server.until((stats) => stats.open === 10 && stats.refused === 4);
    server.release();
    const outcomes = await settled;
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    assert.equal(refused.length, 4, 'the channels beyond MaxSessions were refused');
    for (const outcome of refused) {
      assert.ok(outcome.reason instanceof MoorError, String(outcome.reason));
      assert.equal(outcome.reason.code, 'SSH_CHANNEL_FAILED', outcome.reason.message);
    }
    assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 10);
    assert.match((await session.exec('echo still fine')).stdout, /^echo still fine via \d+\n$/);
  });
});
