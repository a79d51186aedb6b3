/**
 * The qemu driver's share agent: `node qemu-share.js MACHINE_DIR`, started detached by share.ts after each
 * boot of a machine with shared folders. It holds one SSH connection to the VM; per share, an exec channel
 * runs `sshfs -o slave` inside the VM and is piped to a local `sftp-server`. It reports in the machine
 * folder (share-agent.status.json) once everything is mounted, logs to share-agent.log (its stdout and
 * stderr), and stops on SIGTERM. When the connection or a mount ends on its own, it reconnects and mounts
 * again, a bounded number of times in a row; a first mount that fails ends it at once (the driver, waiting
 * for it, shows the log's tail).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import {
  loadSSH,
  messageOf,
  notYet,
  PRIVATE_FILE_MODE,
  sleep,
  type SSHSession,
  waitFor,
  writeFileAtomic,
} from '../api.js';
import {
  type AgentConfig,
  type AgentStatus,
  mountCommand,
  mountedCommand,
  readAgentConfig,
  SHARE_FILES,
  type ShareFolder,
  targetOf,
} from './share.js';

/** Pauses before each reconnect in a row; when they are used up, the agent gives up. */
export const RECONNECT_DELAYS_MS = [2_000, 5_000, 10_000, 20_000, 30_000];
/** Mounted at least this long: the count of failures in a row starts again. */
const STABLE_MS = 60_000;
const MOUNT_TIMEOUT_MS = 60_000;

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

async function writeStatus(machineDir: string, state: AgentStatus['State']): Promise<void> {
  const status: AgentStatus = { Pid: process.pid, State: state, At: new Date().toISOString() };
  await writeFileAtomic(join(machineDir, SHARE_FILES.status), `${JSON.stringify(status)}\n`, PRIVATE_FILE_MODE);
}

class Connection {
  private readonly children: ChildProcess[] = [];
  private endedWith: string | undefined;
  private onEnded: ((why: string) => void) | undefined;
  /** Resolves with the reason when any share's channel or sftp-server ends. */
  readonly ended = new Promise<string>((resolve) => {
    this.onEnded = resolve;
  });

  constructor(
    private readonly session: SSHSession,
    private readonly config: AgentConfig,
  ) {}

  private end(why: string): void {
    if (this.endedWith !== undefined) return;
    this.endedWith = why;
    this.onEnded?.(why);
  }

  async mount(share: ShareFolder): Promise<void> {
    const channel = (await this.session.execStream(mountCommand(share))) as Duplex & { stderr?: Readable };
    const sftp = spawn(this.config.SftpServer, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.push(sftp);
    let sshfsErrors = '';
    channel.stderr?.on('data', (chunk: Buffer) => {
      sshfsErrors = `${sshfsErrors}${chunk.toString()}`.slice(-2_000);
      log(`${share.Guest}: sshfs: ${chunk.toString().trim()}`);
    });
    sftp.stderr!.on('data', (chunk: Buffer) => log(`${share.Host}: sftp-server: ${chunk.toString().trim()}`));
    channel.on('error', (error: unknown) => log(`${share.Guest}: channel: ${messageOf(error)}`));
    sftp.stdin!.on('error', () => undefined); // its exit is reported below
    channel.pipe(sftp.stdin!);
    sftp.stdout!.pipe(channel);
    channel.on('close', () =>
      this.end(`the mount of ${share.Guest} ended${sshfsErrors.trim() ? ` (${sshfsErrors.trim()})` : ''}`),
    );
    sftp.on('error', (error) => this.end(`sftp-server ${this.config.SftpServer}: ${error.message}`));
    sftp.on('exit', (code, signal) => this.end(`sftp-server for ${share.Host} exited (${code ?? signal})`));
    await waitFor(
      async () => {
        if (this.endedWith !== undefined) throw new Error(this.endedWith);
        const mounted = await this.session.exec(mountedCommand(share));
        return mounted.code === 0 ? true : notYet('not mounted yet');
      },
      { what: `the mount of ${share.Guest}`, timeoutMs: MOUNT_TIMEOUT_MS, maxDelayMs: 1_000 },
    );
    log(`mounted ${share.Host} on ${share.Guest}`);
  }

  async close(): Promise<void> {
    this.end('closed');
    for (const child of this.children) child.kill();
    await this.session.close().catch(() => undefined);
  }
}

export async function runAgent(machineDir: string): Promise<number> {
  const config = await readAgentConfig(machineDir);
  if (!config) {
    log(`no readable ${SHARE_FILES.config} in ${machineDir}`);
    return 2;
  }
  const ssh = await loadSSH();
  let connection: Connection | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    void (connection?.close() ?? Promise.resolve())
      .then(() => rm(join(machineDir, SHARE_FILES.status), { force: true }))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => stop('SIGHUP'));

  let everMounted = false;
  let failures = 0;
  for (;;) {
    let mountedAt = 0;
    try {
      await writeStatus(machineDir, 'connecting');
      const session = await ssh.connect(targetOf(config), { timeoutMs: everMounted ? 120_000 : 60_000 });
      connection = new Connection(session, config);
      for (const share of config.Shares) await connection.mount(share);
      if (stopping) return new Promise<number>(() => undefined);
      await writeStatus(machineDir, 'mounted');
      mountedAt = Date.now();
      everMounted = true;
      log(`every share is mounted (${config.Shares.length}); connected to ${config.Host}:${config.Port}`);
      throw new Error(await connection.ended);
    } catch (error) {
      if (stopping) return new Promise<number>(() => undefined); // stop() exits once it has cleaned up
      log(messageOf(error));
      await connection?.close();
      connection = undefined;
      if (!everMounted) return 1;
      if (mountedAt && Date.now() - mountedAt >= STABLE_MS) failures = 0;
      const delay = RECONNECT_DELAYS_MS[failures++];
      if (delay === undefined) {
        log(
          `giving up after ${RECONNECT_DELAYS_MS.length} reconnects in a row; "moor restart" mounts the shares again`,
        );
        await rm(join(machineDir, SHARE_FILES.status), { force: true });
        return 1;
      }
      log(`reconnecting in ${delay / 1000} s`);
      await sleep(delay);
    }
  }
}

// Run as a program (not imported by a test): node share-agent.ts|qemu-share.js MACHINE_DIR.
const machineDir = process.argv[2];
if (machineDir && /(share-agent\.ts|qemu-share\.js)$/.test(process.argv[1] ?? '')) {
  runAgent(machineDir).then(
    (code) => process.exit(code),
    (error: unknown) => {
      log(`failed: ${messageOf(error)}`);
      process.exit(1);
    },
  );
}
