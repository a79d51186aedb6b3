/**
 * Shared folders of the qemu driver (`--qemu-share-folder HOST[:GUEST]`): reverse SSHFS, as Lima does for
 * QEMU. Inside the VM, `sshfs -o slave` mounts GUEST and speaks SFTP on its stdin/stdout; that stream is an
 * exec channel of an SSH connection from the host, whose other end is OpenSSH's `sftp-server` run on the
 * host as the user running moor. No 9p or virtiofs is needed (Debian's genericcloud kernel has no 9p), and
 * no port of the host is opened to the VM.
 *
 * A machine outlives the moor command that started it, so the connection is held by a small detached agent
 * per machine (share-agent.ts, started with the same node): its configuration, pid file, status and log are
 * files in the machine folder. The driver starts it after every boot and stops it before every stop, kill
 * and rm. This module holds the pure parts (the remote commands, the agent's command line) and the agent's
 * management; the agent itself only runs what is built here. The values are checked by
 * ../shared/vm/share-folders.ts.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type DriverLogger,
  ExitCode,
  isExecutableFile,
  loadSSH,
  MoorError,
  notYet,
  PRIVATE_FILE_MODE,
  processIsGone,
  shellQuote,
  type SSHConfig,
  type SSHTarget,
  waitFor,
  writeFileAtomic,
} from '../api.js';
import { type ShareFolder } from '../shared/vm/share-folders.js';

export const SHARE_FLAG = 'qemu-share-folder';
export type { ShareFolder };

/** Where the share agent keeps its files, in the machine folder. */
export const SHARE_FILES = {
  /** What the agent connects to and mounts (written by the driver before each start of the agent). */
  config: 'share-agent.json',
  /** The agent's pid, written by the driver as it starts it. */
  pid: 'share-agent.pid',
  /** Written by the agent: its pid and whether every share is mounted. */
  status: 'share-agent.status.json',
  log: 'share-agent.log',
} as const;

/** Where OpenSSH's sftp-server lives: Debian/Ubuntu, Fedora, Arch, macOS, Homebrew (Apple Silicon, Intel). */
export const SFTP_SERVER_CANDIDATES = [
  '/usr/lib/openssh/sftp-server',
  '/usr/libexec/openssh/sftp-server',
  '/usr/lib/ssh/sftp-server',
  '/usr/libexec/sftp-server',
  '/opt/homebrew/opt/openssh/libexec/sftp-server',
  '/usr/local/opt/openssh/libexec/sftp-server',
];

/** OpenSSH's sftp-server on this host: the usual places, then `sftp-server` on PATH; undefined when absent. */
export function findSftpServer(
  env: NodeJS.ProcessEnv,
  isExecutable: (path: string) => boolean = isExecutableFile,
): string | undefined {
  const onPath = (env['PATH'] ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, 'sftp-server'));
  return [...SFTP_SERVER_CANDIDATES, ...onPath].find((path) => isExecutable(path));
}

export class SftpServerMissingError extends MoorError {
  constructor() {
    super(`--${SHARE_FLAG} needs OpenSSH's sftp-server on this machine, and it was not found.`, {
      code: 'QEMU_SFTP_SERVER_MISSING',
      exitCode: ExitCode.preCreateCheck,
      suggestions: [
        'Debian/Ubuntu: sudo apt-get install openssh-sftp-server',
        'Fedora: sudo dnf install openssh-server',
        'Arch Linux: sudo pacman -S openssh',
        'macOS: it comes with the system (/usr/libexec/sftp-server); or brew install openssh',
        `Looked in ${SFTP_SERVER_CANDIDATES.join(', ')} and on PATH.`,
      ],
    });
  }
}

/** A script run by `sh -c` with its values as positional parameters: nothing of them is parsed as code. */
function rootScript(script: string, args: readonly string[]): string {
  return `sudo -n sh -c ${shellQuote(script)} sh ${args.map(shellQuote).join(' ')}`.trimEnd();
}

/**
 * Makes sure sshfs is installed in the VM (Debian's genericcloud image has none): after cloud-init is done
 * (it may still be running apt), apt-get or dnf, each bounded. Exit 0: present; 3: no package manager known.
 */
export function installSshfsCommand(timeoutSeconds = 300): string {
  const t = String(timeoutSeconds);
  const script = [
    'command -v sshfs >/dev/null 2>&1 && exit 0',
    'if command -v cloud-init >/dev/null 2>&1; then timeout "$1" cloud-init status --wait >/dev/null 2>&1 || true; fi',
    'if command -v apt-get >/dev/null 2>&1; then',
    '  export DEBIAN_FRONTEND=noninteractive',
    '  timeout "$1" apt-get -o DPkg::Lock::Timeout=120 update -qq &&',
    '    timeout "$1" apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends sshfs >/dev/null',
    'elif command -v dnf >/dev/null 2>&1; then',
    '  timeout "$1" dnf install -y -q fuse-sshfs',
    'else',
    '  echo "no apt-get or dnf to install sshfs with" >&2; exit 3',
    'fi',
    'command -v sshfs >/dev/null 2>&1',
  ].join('\n');
  return rootScript(script, [t]);
}

/** sshfs's options: slave mode (SFTP on stdin/stdout), readable by every user of the VM (dockerd, containers). */
export const SSHFS_OPTIONS = 'slave,allow_other,noatime';

/**
 * Mounts one share inside the VM, as root: a stale sshfs mount left at GUEST (its previous connection died)
 * is unmounted, GUEST is made, then `sshfs -f` runs in the foreground for as long as the channel lives.
 */
export function mountCommand(share: ShareFolder): string {
  const script = [
    'if findmnt -n -t fuse.sshfs --mountpoint "$1" >/dev/null 2>&1; then umount -l "$1"; fi',
    'mkdir -p "$1"',
    `exec sshfs -f -o ${SSHFS_OPTIONS} ":$2" "$1"`,
  ].join('\n');
  return rootScript(script, [share.Guest, share.Host]);
}

/** Exit 0 when GUEST is an sshfs mount. */
export function mountedCommand(share: ShareFolder): string {
  return `findmnt -n -t fuse.sshfs --mountpoint ${shellQuote(share.Guest)} >/dev/null`;
}

/** Unmounts a share inside the VM (lazily, so that a busy or dead mount goes too). */
export function unmountCommand(share: ShareFolder): string {
  return rootScript('findmnt -n -t fuse.sshfs --mountpoint "$1" >/dev/null 2>&1 && umount -l "$1"; exit 0', [
    share.Guest,
  ]);
}

/** What the agent reads: where to connect, and what to mount with which sftp-server. */
export interface AgentConfig {
  Machine: string;
  Host: string;
  Port: number;
  User: string;
  KeyPath: string;
  /** The VM's SSH host key, pinned (seen by the driver's first connection). */
  HostKey: string;
  SftpServer: string;
  Shares: ShareFolder[];
}

/** The SSH target of the agent's connection. */
export function targetOf(config: AgentConfig): SSHTarget {
  return {
    host: config.Host,
    port: config.Port,
    user: config.User,
    privateKeyPath: config.KeyPath,
    machineName: config.Machine,
    ...(config.HostKey ? { hostKey: config.HostKey } : {}),
  };
}

export interface AgentStatus {
  Pid: number;
  /** 'mounted' once every share is; 'connecting' while it (re)connects. */
  State: 'mounted' | 'connecting';
  At: string;
}

export async function writeAgentConfig(machineDir: string, config: AgentConfig): Promise<void> {
  await writeFileAtomic(
    join(machineDir, SHARE_FILES.config),
    `${JSON.stringify(config, null, 2)}\n`,
    PRIVATE_FILE_MODE,
  );
}

export async function readAgentConfig(machineDir: string): Promise<AgentConfig | undefined> {
  try {
    return JSON.parse(await readFile(join(machineDir, SHARE_FILES.config), 'utf8')) as AgentConfig;
  } catch {
    return undefined;
  }
}

const AGENT_NAME = 'share-agent';
/** The built agent, under dist/. */
const AGENT_SCRIPT = join('agents', 'qemu-share.js');

/**
 * The command line of the agent: the same node (and its loader flags when moor runs from its TypeScript
 * sources), the agent's script, the machine folder. Built, the agent is dist/agents/qemu-share.js; from the
 * sources, share-agent.ts beside this file.
 */
export function agentCommand(
  machineDir: string,
  self: { execPath: string; execArgv: readonly string[]; moduleUrl: string } = {
    execPath: process.execPath,
    execArgv: process.execArgv,
    moduleUrl: import.meta.url,
  },
): string[] {
  const here = fileURLToPath(self.moduleUrl);
  if (here.endsWith('.ts')) {
    return [self.execPath, ...self.execArgv, join(dirname(here), `${AGENT_NAME}.ts`), machineDir];
  }
  // The bundle holding this code is in dist/ (the fast path's) or one folder below it (dist/chunks).
  let dist = dirname(here);
  if (!existsSync(join(dist, AGENT_SCRIPT))) dist = dirname(dist);
  return [self.execPath, join(dist, AGENT_SCRIPT), machineDir];
}

/** The agent's pid when the pid file names a live process that is this machine's agent (not a reused pid). */
export function agentPid(machineDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(machineDir, SHARE_FILES.pid), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || processIsGone(pid)) return undefined;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!args.includes(machineDir) || !args.some((arg) => /share-agent\.ts$|qemu-share\.js$/.test(arg)))
      return undefined;
  } catch {
    // no procfs (macOS): trust the live pid
  }
  return pid;
}

function readStatus(machineDir: string): AgentStatus | undefined {
  try {
    return JSON.parse(readFileSync(join(machineDir, SHARE_FILES.status), 'utf8')) as AgentStatus;
  } catch {
    return undefined;
  }
}

/** The last lines of the agent's log, for error messages. */
function logTail(machineDir: string, lines = 15): string {
  try {
    const text = readFileSync(join(machineDir, SHARE_FILES.log), 'utf8').trim();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts the machine's share agent (detached: its own session, output appended to its log, not waited for
 * by moor's exit) and waits until it reports every share mounted, or exits (its log's tail is the error).
 */
export async function startAgent(
  machineDir: string,
  options: { env: NodeJS.ProcessEnv; timeoutMs?: number; command?: string[] },
): Promise<number> {
  await stopAgent(machineDir);
  await rm(join(machineDir, SHARE_FILES.status), { force: true });
  const [node, ...args] = options.command ?? agentCommand(machineDir);
  // Appended to across starts, begun again past a megabyte.
  const logPath = join(machineDir, SHARE_FILES.log);
  const logFd = openSync(
    logPath,
    (statSync(logPath, { throwIfNoEntry: false })?.size ?? 0) > 1 << 20 ? 'w' : 'a',
    PRIVATE_FILE_MODE,
  );
  let child;
  try {
    child = spawn(node!, args, { cwd: machineDir, detached: true, stdio: ['ignore', logFd, logFd], env: options.env });
  } finally {
    closeSync(logFd);
  }
  const exited = new AbortController();
  child.once('exit', () => exited.abort());
  child.once('error', () => exited.abort());
  const pid = child.pid;
  if (pid) await writeFileAtomic(join(machineDir, SHARE_FILES.pid), `${pid}\n`, PRIVATE_FILE_MODE);
  child.unref();
  const failed = (why: string) =>
    new MoorError(`The shared folders could not be mounted: ${why}.${tailText(machineDir)}`, {
      code: 'QEMU_SHARE_FAILED',
      suggestions: [`The share agent's log: ${join(machineDir, SHARE_FILES.log)}`],
    });
  const mounted = await waitFor(
    () => {
      const status = readStatus(machineDir);
      if (status && status.Pid === pid && status.State === 'mounted') return true;
      if (exited.signal.aborted || !pid) throw failed('the share agent exited');
      return notYet();
    },
    { what: 'the shared folders', timeoutMs: options.timeoutMs ?? 180_000, maxDelayMs: 1_000, onTimeout: () => false },
  );
  if (!mounted) {
    await stopAgent(machineDir);
    throw failed('the share agent did not report them mounted in time');
  }
  return pid!;
}

function tailText(machineDir: string): string {
  const tail = logTail(machineDir);
  return tail ? `\nThe share agent's last lines:\n${tail}` : '';
}

/** Stops the machine's share agent (SIGTERM, then SIGKILL after `graceMs`) and removes its pid and status. */
export async function stopAgent(machineDir: string, graceMs = 10_000): Promise<void> {
  const pid = agentPid(machineDir);
  if (pid !== undefined) {
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(pid, name);
      } catch {
        // gone already
      }
    };
    signal('SIGTERM');
    const gone = await waitFor(() => (processIsGone(pid) ? true : notYet()), {
      what: 'the share agent to exit',
      timeoutMs: graceMs,
      maxDelayMs: 250,
      jitter: false,
      onTimeout: () => false,
    });
    if (!gone) {
      signal('SIGKILL');
      await waitFor(() => (processIsGone(pid) ? true : notYet()), {
        what: 'the share agent to exit',
        timeoutMs: 10_000,
        jitter: false,
      });
    }
  }
  await rm(join(machineDir, SHARE_FILES.pid), { force: true });
  await rm(join(machineDir, SHARE_FILES.status), { force: true });
}

/** The agent's files, removed with the machine. */
export async function removeAgentFiles(machineDir: string): Promise<void> {
  await stopAgent(machineDir);
  for (const name of Object.values(SHARE_FILES)) await rm(join(machineDir, name), { force: true });
}

export interface MountOptions {
  machineDir: string;
  machineName: string;
  env: NodeJS.ProcessEnv;
  /** Where the VM's SSH server is, as the driver reports it (host, port, user, key). */
  ssh: SSHConfig;
  shares: readonly ShareFolder[];
  log: DriverLogger;
  /** At create: install sshfs in the VM when it is missing (and pin the host key seen). */
  install: boolean;
  /** Budget for SSH to answer (the boot waited for its banner already). */
  sshTimeoutMs?: number;
  /** create's interrupt. */
  signal?: AbortSignal;
}

/**
 * Mounts a machine's shares: (at create) sshfs installed in the VM over SSH, then the agent's configuration
 * written (with the VM's host key, pinned from the first connection) and the agent started. Idempotent: a
 * running agent is replaced.
 */
export async function mountShares(options: MountOptions): Promise<void> {
  const { log, machineDir } = options;
  if (options.shares.length === 0) return;
  const sftpServer = findSftpServer(options.env);
  if (!sftpServer) throw new SftpServerMissingError();
  let hostKey = (await readAgentConfig(machineDir))?.HostKey ?? '';
  if (options.install || !hostKey) {
    const ssh = await loadSSH();
    const session = await ssh.connect(
      {
        host: options.ssh.host,
        port: options.ssh.port,
        user: options.ssh.user,
        privateKeyPath: options.ssh.keyPath ?? '',
        machineName: options.machineName,
        ...(hostKey ? { hostKey } : {}),
      },
      { timeoutMs: options.sshTimeoutMs ?? 300_000, log, ...(options.signal ? { signal: options.signal } : {}) },
    );
    try {
      hostKey = session.hostKey;
      if (options.install) {
        log.step('Installing sshfs in the machine for its shared folders (when missing)');
        const installed = await session.exec(installSshfsCommand());
        if (installed.code !== 0) {
          throw new MoorError(
            `sshfs could not be installed in the machine (exit ${installed.code}): ${(installed.stderr || installed.stdout).trim().split('\n').slice(-5).join(' ') || 'no message'}.`,
            {
              code: 'QEMU_SHARE_FAILED',
              suggestions: [
                'The machine needs the sshfs package for --qemu-share-folder: use an image with it, or check its network and package sources.',
              ],
            },
          );
        }
      }
    } finally {
      await session.close();
    }
  }
  await writeAgentConfig(machineDir, {
    Machine: options.machineName,
    Host: options.ssh.host,
    Port: options.ssh.port,
    User: options.ssh.user,
    KeyPath: options.ssh.keyPath ?? '',
    HostKey: hostKey,
    SftpServer: sftpServer,
    Shares: [...options.shares],
  });
  log.step(
    `Mounting the shared folders (${options.shares.map((share) => `${share.Host} on ${share.Guest}`).join(', ')})`,
  );
  await startAgent(machineDir, { env: options.env });
}
