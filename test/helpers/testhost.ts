/**
 * Disposable "remote Debian 12 servers" for end-to-end tests: a TypeScript wrapper around
 * test/e2e/testhost/testhost.sh (systemd-nspawn hosts with real systemd and OpenSSH, each with its own address in
 * 10.123.0.0/24). Needs root, systemd-nspawn and debootstrap (test/e2e/testhost/install-deps.sh installs them);
 * tests skip with testHostsAvailable().reason otherwise.
 *
 *   const ip = await allocateIp();                                  // unique across parallel test files
 *   const host = await upHost({ name: hostName('lifecycle'), ip }); // ~2 s from cache (~4 s withDocker)
 *   await host.ssh('sudo -n true', 'docker');                       // or: ssh ...host.sshArgs('docker') ...
 *   after(() => cleanupHosts());                                    // this process's hosts, then the network
 *
 * Users on every host, all accepting keyPath: root, docker (passwordless sudo), nosudo (no sudo rights).
 * The key pair is ed25519, generated once per test run (shared by the run's test-file processes) under
 * $TH_DIR/runs/<run id>.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TESTHOST_SCRIPT = fileURLToPath(new URL('../e2e/testhost/testhost.sh', import.meta.url));
/** State folder of testhost.sh (hosts' disks, reservations, keys); must match the script's default. */
export const TH_DIR = process.env['TH_DIR'] ?? '/var/lib/moor-testhost';
export const TESTHOST_PREFIX = '10.123.0';
export const FIRST_TEST_IP = 10;

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestHost {
  name: string;
  ip: string;
  sshPort: number;
  /** Private key (ed25519, 0600) accepted for root, docker and nosudo. */
  keyPath: string;
  /** Runs a shell command inside the host as root, without ssh (nsenter). */
  exec(cmd: string): Promise<ExecResult>;
  /** Runs a shell command over real ssh as `user` (default root); host keys are not checked. */
  ssh(cmd: string, user?: string): Promise<ExecResult>;
  /** ssh(1) arguments up to and including user@ip (no host key checks, batch mode, this host's port). */
  sshArgs(user?: string): string[];
  /** apt-get install docker.io inside the host (20-25 s), left socket-activated as Debian ships it. */
  preinstallDocker(): Promise<void>;
  /** New /etc/ssh/ssh_host_* keys and an sshd restart ("host key changed"). */
  regenHostKeys(): Promise<void>;
  /** Powers the host off and keeps its disk (a stopped server, or a cloud instance after stop). */
  stop(): Promise<void>;
  /**
   * Boots the stopped host again, keeping its disk (Docker's state included), at `ip` when given: a server
   * back with another address (a cloud instance after stop/start, a DHCP lease that changed). `ip` comes
   * from allocateIp(); the old address is released.
   */
  boot(ip?: string): Promise<void>;
  /** Powers the host off and deletes it, its netns and veth; releases its IP. */
  down(): Promise<void>;
}

export interface UpHostOptions {
  /** a-z, 0-9 and '-', at most 31 characters; unique on the machine (see hostName()). */
  name: string;
  /** In 10.123.0.2-254; use allocateIp() so that parallel test files do not collide. */
  ip: string;
  /** sshd listens on this port only (default 22). */
  sshPort?: number;
  /** Boot from the cached rootfs with Debian's docker.io preinstalled (fast: ~4 s instead of ~2 s + 13-25 s). */
  withDocker?: boolean;
  /** After boot, install Debian's docker.io with apt-get inside the running host (the slow, real path). */
  preinstalledDocker?: boolean;
  /** The host has no `docker` user (root and nosudo only). */
  noDockerUser?: boolean;
  /** Milliseconds for `up` (which may have to build the cache first: ~45 s, +20 s for withDocker). */
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------- availability

function onPath(program: string): boolean {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  return dirs.some((dir) => dir && existsSync(join(dir, program)));
}

let availability: { ok: boolean; reason?: string } | undefined;

/** Whether this machine can run test hosts; `reason` says why not (tests skip with it). */
export function testHostsAvailable(): { ok: boolean; reason?: string } {
  availability ??= checkAvailability();
  return availability;
}

function checkAvailability(): { ok: boolean; reason?: string } {
  if (process.env['TESTHOST_DISABLE'] === '1') return { ok: false, reason: 'TESTHOST_DISABLE=1' };
  if (process.platform !== 'linux') return { ok: false, reason: `test hosts need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'test hosts need root (systemd-nspawn, netns, iptables)' };
  const missing = ['systemd-nspawn', 'debootstrap', 'zstd', 'iptables', 'ip', 'nsenter', 'ssh', 'ssh-keygen'].filter(
    (p) => !onPath(p),
  );
  if (missing.length > 0) {
    return { ok: false, reason: `missing ${missing.join(', ')}: run test/e2e/testhost/install-deps.sh as root` };
  }
  const fs = spawnSync('df', ['--output=fstype', existsSync(TH_DIR) ? TH_DIR : '/var/lib'], { encoding: 'utf8' });
  const fsType = fs.stdout?.trim().split('\n').pop()?.trim() ?? '';
  if (fsType.startsWith('overlay')) {
    return { ok: false, reason: `${TH_DIR} is on overlayfs: set TH_DIR to a folder on ext4/xfs` };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------- running things

/** Runs a program; resolves with its exit code and output (never rejects on a non-zero exit). */
export function runCommand(
  command: string,
  args: string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, TH_DIR },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    if (options.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}

/** Runs testhost.sh; rejects when it fails. */
export async function testhostScript(args: string[], timeoutMs = 120_000): Promise<ExecResult> {
  const result = await runCommand('bash', [TESTHOST_SCRIPT, ...args], { timeoutMs });
  if (result.code !== 0) {
    throw new Error(`testhost.sh ${args.join(' ')} exited ${result.code}\n${result.stderr}${result.stdout}`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------- keys

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The test run's id: the node test runner (parent of every test-file process) unless TESTHOST_RUN_ID is set. */
export function runId(): string {
  return process.env['TESTHOST_RUN_ID'] ?? String(process.ppid);
}

let runKeyPromise: Promise<{ keyPath: string; pubKeyPath: string }> | undefined;

/** The run's ed25519 key pair (private key 0600), generated by whichever test file asks first. */
export function runKey(): Promise<{ keyPath: string; pubKeyPath: string }> {
  runKeyPromise ??= (async () => {
    const runs = join(TH_DIR, 'runs');
    await mkdir(runs, { recursive: true, mode: 0o700 });
    const dir = join(runs, runId());
    const keyPath = join(dir, 'id_ed25519');
    const pubKeyPath = `${keyPath}.pub`;
    if (!existsSync(pubKeyPath)) {
      // keys of runs whose runner is gone
      for (const entry of await readdir(runs)) {
        if (/^\d+$/.test(entry) && entry !== runId() && !alive(Number(entry))) {
          await rm(join(runs, entry), { recursive: true, force: true });
        }
      }
      const tmp = await mkdtemp(join(runs, '.new-'));
      const gen = await runCommand('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-C',
        `moor-test-${runId()}`,
        '-f',
        join(tmp, 'id_ed25519'),
      ]);
      if (gen.code !== 0) throw new Error(`ssh-keygen failed: ${gen.stderr}`);
      await chmod(join(tmp, 'id_ed25519'), 0o600);
      try {
        await rename(tmp, dir); // atomic; loses against a parallel test file that got there first
      } catch (error) {
        await rm(tmp, { recursive: true, force: true });
        if (!existsSync(pubKeyPath)) throw error;
      }
    }
    return { keyPath, pubKeyPath };
  })();
  return runKeyPromise;
}

// ---------------------------------------------------------------------------------------------- IPs and names

const reserved = new Set<string>();
process.on('exit', () => {
  for (const ip of reserved) {
    try {
      unlinkSync(join(TH_DIR, 'ips', ip));
    } catch {
      // already gone
    }
  }
});

async function usedByHosts(): Promise<Set<string>> {
  const used = new Set<string>();
  const hosts = join(TH_DIR, 'hosts');
  if (!existsSync(hosts)) return used;
  for (const name of await readdir(hosts)) {
    try {
      used.add((await readFile(join(hosts, name, 'ip'), 'utf8')).trim());
    } catch {
      // host being created or removed
    }
  }
  return used;
}

/**
 * A free address 10.123.0.10-254, reserved for this process (a file $TH_DIR/ips/<ip> created exclusively, so
 * test files running in parallel never get the same one). Released by releaseIp(), host.down(),
 * cleanupHosts() or the process's exit; a dead process's reservation is reclaimed.
 */
export async function allocateIp(): Promise<string> {
  const dir = join(TH_DIR, 'ips');
  await mkdir(dir, { recursive: true });
  const used = await usedByHosts();
  for (let last = FIRST_TEST_IP; last < 255; last++) {
    const ip = `${TESTHOST_PREFIX}.${last}`;
    if (reserved.has(ip) || used.has(ip)) continue;
    const file = join(dir, ip);
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      reserved.add(ip);
      return ip;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner: number;
      try {
        owner = Number(readFileSync(file, 'utf8').trim());
      } catch (readError) {
        // Reclaimed meanwhile by a parallel allocation (a dead process's reservation): try this one again.
        if ((readError as NodeJS.ErrnoException).code !== 'ENOENT') throw readError;
        last--;
        continue;
      }
      if (owner && !alive(owner)) {
        await unlink(file).catch(() => undefined);
        last--; // try this one again
      }
    }
  }
  throw new Error(`no free test host address in ${TESTHOST_PREFIX}.${FIRST_TEST_IP}-254`);
}

export async function releaseIp(ip: string): Promise<void> {
  if (!reserved.delete(ip)) return;
  await unlink(join(TH_DIR, 'ips', ip)).catch(() => undefined);
}

/** `base` plus this process's id, so that parallel test files (and runs) do not share host names. */
export function hostName(base: string): string {
  return `${base.slice(0, 22)}-${process.pid}`.toLowerCase();
}

// ---------------------------------------------------------------------------------------------- hosts

const ours = new Map<string, TestHost>();

export async function upHost(options: UpHostOptions): Promise<TestHost> {
  const avail = testHostsAvailable();
  if (!avail.ok) throw new Error(`test hosts unavailable: ${avail.reason}`);
  const { keyPath, pubKeyPath } = await runKey();
  const sshPort = options.sshPort ?? 22;
  const args = ['up', options.name, options.ip, pubKeyPath, '--ssh-port', String(sshPort)];
  if (options.withDocker) args.push('--with-docker');
  if (options.noDockerUser) args.push('--no-docker-user');
  const name = options.name;
  const host: TestHost = {
    name,
    ip: options.ip,
    sshPort,
    keyPath,
    exec: (cmd) => runCommand('bash', [TESTHOST_SCRIPT, 'exec', name, cmd], { timeoutMs: 300_000 }),
    sshArgs: (user = 'root') => [
      '-i',
      keyPath,
      '-p',
      String(sshPort),
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'ConnectTimeout=10',
      `${user}@${host.ip}`,
    ],
    ssh: (cmd, user = 'root') => runCommand('ssh', [...host.sshArgs(user), cmd], { timeoutMs: 300_000 }),
    preinstallDocker: async () => {
      await testhostScript(['preinstall-docker', name], 600_000);
    },
    regenHostKeys: async () => {
      await testhostScript(['regen-hostkeys', name]);
    },
    stop: async () => {
      await testhostScript(['stop', name]);
    },
    boot: async (ip = host.ip) => {
      const old = host.ip;
      await testhostScript(['up', name, ip, pubKeyPath, '--ssh-port', String(sshPort)], options.timeoutMs ?? 600_000);
      host.ip = ip;
      if (ip !== old) await releaseIp(old);
    },
    down: async () => {
      ours.delete(name);
      try {
        await testhostScript(['down', name]);
      } finally {
        await releaseIp(host.ip);
      }
    },
  };
  ours.set(name, host);
  try {
    await testhostScript(args, options.timeoutMs ?? 600_000);
    if (options.preinstalledDocker && !options.withDocker) await host.preinstallDocker();
  } catch (error) {
    await host.down().catch(() => undefined);
    throw error;
  }
  return host;
}

/**
 * Downs every host this process brought up (in parallel), releases its IPs, and removes the bridge and iptables
 * rules when no host of any process is left. Safe to call more than once. (`testhost.sh cleanup` removes
 * everything regardless of owner: for the end of a CI run or by hand.)
 */
export async function cleanupHosts(): Promise<void> {
  const results = await Promise.allSettled([...ours.values()].map((host) => host.down()));
  for (const ip of [...reserved]) await releaseIp(ip);
  if (testHostsAvailable().ok) await testhostScript(['net-down']);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw new Error(failed.map((f) => String(f.reason)).join('\n'));
}

/** Everything testhost.sh created, whoever created it (not the caches). */
export async function cleanupAllHosts(): Promise<void> {
  await testhostScript(['cleanup'], 300_000);
}
