/**
 * A real OpenSSH server for the SSH integration tests: `/usr/sbin/sshd -D -e -f CONFIG` in the foreground,
 * listening on 127.0.0.1 only, with a temporary host key and an authorized_keys file of its own, letting
 * the current user (root in CI) log in with a key generated here. Needs Debian's openssh-server package
 * (`apt-get install -y openssh-server`), which also brings ssh-keygen.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const LOOPBACK = '127.0.0.1';
const START_TIMEOUT_MS = 10_000;

/** The sshd binary: $SSHD, else the usual places; undefined when OpenSSH's server is not installed. */
export function sshdPath(): string | undefined {
  const candidates = [process.env['SSHD'], '/usr/sbin/sshd', '/usr/local/sbin/sshd'];
  return candidates.find((path): path is string => path !== undefined && path !== '' && existsSync(path));
}

/** Why the SSH integration tests cannot run here, or undefined when they can. */
export function sshdMissingReason(): string | undefined {
  if (process.platform === 'win32') return 'no OpenSSH server on Windows runners';
  if (!sshdPath()) return 'OpenSSH server not installed: apt-get install -y openssh-server';
  return undefined;
}

export interface SshdOptions {
  /** Listen on this port (one from reservePort(), say); default: a free one. */
  port?: number;
  /** sshd's MaxSessions (session channels per connection); default 30. OpenSSH's own default is 10. */
  maxSessions?: number;
  /** Let this existing key pair (PATH and PATH.pub) log in instead of generating one. */
  clientKeyPath?: string;
}

export interface SshdHandle {
  port: number;
  /** The user allowed to log in: the current one. */
  user: string;
  /** The server's host key as an OpenSSH public key line ('ssh-ed25519 AAAA...', no comment). */
  hostKeyPublic: string;
  /** A private key (OpenSSH format, 0600) whose public half is in authorizedKeysPath. */
  clientKeyPath: string;
  authorizedKeysPath: string;
  /** A temporary folder of this server's own, removed by stop(). */
  dir: string;
  /** Everything sshd wrote on stderr so far (-e), for failure messages. */
  log(): string;
  /** Replaces the host key and restarts sshd on the same port; resolves with the new key line. */
  regenerateHostKey(): Promise<string>;
  /** Kills the server side of every open connection (as a crash or network drop would); sshd keeps listening. */
  dropConnections(): Promise<number>;
  /** Stops sshd and its per-connection processes, and removes the folder. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago (listen on 0, close): to start a server on later. */
export async function reservePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startSshd(options: SshdOptions = {}): Promise<SshdHandle> {
  const binary = sshdPath();
  if (!binary) throw new Error(sshdMissingReason());
  const dir = await mkdtemp(join(tmpdir(), 'moor-sshd-'));
  try {
    return await launch(binary, dir, options);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(binary: string, dir: string, options: SshdOptions): Promise<SshdHandle> {
  const user = userInfo().username;
  const hostKeyPath = join(dir, 'ssh_host_ed25519_key');
  const clientKeyPath = options.clientKeyPath ?? join(dir, 'client_ed25519');
  const authorizedKeysPath = join(dir, 'authorized_keys');
  const configPath = join(dir, 'sshd_config');
  await keygen(hostKeyPath, 'moor-test-host');
  if (!options.clientKeyPath) await keygen(clientKeyPath, 'moor-test-client');
  await writeFile(authorizedKeysPath, await readFile(`${clientKeyPath}.pub`), { mode: 0o600 });
  if (process.getuid?.() === 0) {
    // Privilege separation needs this folder when sshd runs as root (the package creates it at boot only).
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  }
  const port = options.port ?? (await reservePort());
  const config = [
    `Port ${port}`,
    `ListenAddress ${LOOPBACK}`,
    `HostKey ${hostKeyPath}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeysPath}`,
    'StrictModes no',
    'UsePAM no',
    `AllowUsers ${user}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'AllowStreamLocalForwarding yes',
    'AllowTcpForwarding yes',
    `MaxSessions ${options.maxSessions ?? 30}`,
    // The tests open many connections at once (other test files run in parallel too).
    'MaxStartups 100:30:200',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    'LogLevel INFO',
    '',
  ].join('\n');
  await writeFile(configPath, config, { mode: 0o600 });
  // `sshd -t` validates the configuration and the host key: a clear message instead of a dead server.
  try {
    await run(binary, ['-t', '-f', configPath]);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`sshd -t rejected the test configuration ${configPath}:\n${stderr}\n${config}`);
  }

  let child = await spawnSshd(binary, configPath, port);
  let output = '';
  const capture = (proc: ChildProcess) => proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  capture(child);

  return {
    port,
    user,
    hostKeyPublic: await publicKeyLine(hostKeyPath),
    clientKeyPath,
    authorizedKeysPath,
    dir,
    log: () => output,
    async regenerateHostKey() {
      await kill(child);
      await rm(hostKeyPath, { force: true });
      await rm(`${hostKeyPath}.pub`, { force: true });
      await keygen(hostKeyPath, 'moor-test-host-2');
      child = await spawnSshd(binary, configPath, port);
      capture(child);
      return publicKeyLine(hostKeyPath);
    },
    dropConnections: () => (child.pid === undefined ? Promise.resolve(0) : dropConnectionsOf(child.pid)),
    async stop() {
      await kill(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts sshd and resolves once it listens (it says so on stderr). */
function spawnSshd(binary: string, configPath: string, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-D', '-e', '-f', configPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => {
      void kill(child);
      fail(new Error(`sshd did not listen on ${LOOPBACK}:${port} within ${START_TIMEOUT_MS} ms:\n${stderr}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/Server listening on \S+ port \d+/.test(stderr)) {
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        child.stderr?.removeListener('data', onData);
        resolve(child);
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`sshd exited (${code ?? signal}) before listening on port ${port}:\n${stderr}`));
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', fail);
  });
}

/**
 * Ends sshd: first the per-connection processes it forked (each in a session of its own, so no process
 * group reaches them), which drops the clients' connections, then the listener, and waits for it.
 */
async function kill(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (child.exitCode !== null || child.signalCode !== null || pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await dropConnectionsOf(pid);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

/** Kills the per-connection children of the sshd listener `pid` (found in /proc by parent pid). */
async function dropConnectionsOf(pid: number): Promise<number> {
  let killed = 0;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== pid) continue;
    try {
      process.kill(Number(entry), 'SIGTERM');
      killed += 1;
    } catch {
      // gone already
    }
  }
  return killed;
}

async function keygen(path: string, comment: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

/** 'TYPE BASE64' of a .pub file, without its comment. */
async function publicKeyLine(privateKeyPath: string): Promise<string> {
  const [type, data] = (await readFile(`${privateKeyPath}.pub`, 'utf8')).trim().split(/\s+/);
  return `${type} ${data}`;
}

/** Lets another public key log in (one generated by the code under test, say). */
export async function authorizeKey(handle: SshdHandle, publicKey: string): Promise<void> {
  await appendFile(handle.authorizedKeysPath, `${publicKey.trim()}\n`);
}
