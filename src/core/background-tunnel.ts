/**
 * Background tunnels: `moor tunnel --background` runs the tunnel in a detached moor process that records
 * itself in the machine's folder (tunnel.json: pid and DOCKER_HOST) once it listens, logs to tunnel.log,
 * and removes its record when it stops. Everything else (`env` and `use` for ssh machines, `moor docker`,
 * `ls`) finds it there, so the SSH connection is made once and reused by every docker command.
 */
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MoorError } from './errors.js';
import { isErrno, PRIVATE_FILE_MODE, processIsGone, writeFileAtomic } from './fsutil.js';
import { notYet, waitFor } from './wait.js';

export const TUNNEL_STATE_FILE = 'tunnel.json';
export const TUNNEL_LOG_FILE = 'tunnel.log';

/** What a background tunnel records about itself (PascalCase, as the rest of the machine folder). */
export interface TunnelRecord {
  Pid: number;
  DockerHost: string;
  StartedAt: string;
}

/** The command that starts this program: node, its loader flags, the entry script. */
export type SelfCommand = readonly string[];

export function defaultSelfCommand(): SelfCommand {
  return [process.execPath, ...process.execArgv, process.argv[1] ?? ''];
}

function isTunnelRecord(value: unknown): value is TunnelRecord {
  const record = value as Partial<TunnelRecord> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    Number.isInteger(record.Pid) &&
    (record.Pid ?? 0) > 0 &&
    typeof record.DockerHost === 'string' &&
    typeof record.StartedAt === 'string'
  );
}

/** Whether a process with this pid exists (someone else's included). */
export function processAlive(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0 && !processIsGone(pid);
}

/**
 * Whether the pid is still the tunnel process that wrote the record: on Linux its command line names the
 * tunnel and the machine (a recycled pid does not); elsewhere, whether it is alive.
 */
function isTunnelProcess(pid: number, machine: string): boolean {
  if (!processAlive(pid)) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // no procfs: trust the live pid
  }
  const args = cmdline.split('\0');
  return args.includes('tunnel') && args.includes(machine);
}

/**
 * The machine's running background tunnel, or undefined. A record whose process is gone is ignored (and
 * left for the next start or stop to replace). Synchronous: `ls` asks for every machine.
 */
export function runningTunnel(machineDir: string, machine: string): TunnelRecord | undefined {
  const path = join(machineDir, TUNNEL_STATE_FILE);
  // Most machines have none: a stat that returns undefined is cheaper than a read that throws ENOENT.
  if (!statSync(path, { throwIfNoEntry: false })) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isTunnelRecord(record)) return undefined;
  return isTunnelProcess(record.Pid, machine) ? record : undefined;
}

/** Written by the tunnel process once it listens. */
export async function recordTunnel(machineDir: string, dockerHost: string): Promise<void> {
  const record: TunnelRecord = { Pid: process.pid, DockerHost: dockerHost, StartedAt: new Date().toISOString() };
  await writeFileAtomic(join(machineDir, TUNNEL_STATE_FILE), `${JSON.stringify(record, null, 2)}\n`, PRIVATE_FILE_MODE);
}

/** Removed by the tunnel process when it stops (only its own record). */
export async function forgetTunnel(machineDir: string, pid = process.pid): Promise<void> {
  const path = join(machineDir, TUNNEL_STATE_FILE);
  try {
    const record: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (isTunnelRecord(record) && record.Pid !== pid) return;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
  }
  await rm(path, { force: true });
}

export interface SpawnTunnelOptions {
  machine: string;
  machineDir: string;
  storePath: string;
  /** Arguments after `tunnel NAME` (--socket PATH or --port N). */
  listenArgs: string[];
  self?: SelfCommand;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the tunnel to listen; default 45 s (its first SSH connection may retry for 30 s). */
  timeoutMs?: number;
}

/**
 * Starts `moor tunnel NAME --detached ...` as a process of its own (new session, no terminal, output to
 * tunnel.log) and waits until it has recorded itself, or has exited (its last log lines are the error).
 */
export async function spawnBackgroundTunnel(options: SpawnTunnelOptions): Promise<TunnelRecord> {
  const [command, ...prefix] = options.self ?? defaultSelfCommand();
  const logPath = join(options.machineDir, TUNNEL_LOG_FILE);
  const { spawn } = await import('node:child_process'); // only here: it costs every command's start
  const logFd = openSync(logPath, 'w', PRIVATE_FILE_MODE);
  let child;
  try {
    child = spawn(
      command!,
      [...prefix, '--storage-path', options.storePath, 'tunnel', options.machine, ...options.listenArgs, '--detached'],
      {
        detached: true,
        stdio: ['ignore', logFd, logFd],
        env: { ...(options.env ?? process.env), MOOR_TUNNEL_CHILD: '1' },
      },
    );
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  // The child exits only when it failed to start: that ends the wait at once, with its log's error.
  const exited = new AbortController();
  child.once('exit', () => exited.abort());
  child.once('error', () => exited.abort());
  const timeoutMs = options.timeoutMs ?? 45_000;
  const record = await waitFor(
    () => {
      const record = pid ? runningTunnel(options.machineDir, options.machine) : undefined;
      return record && record.Pid === pid ? record : notYet();
    },
    {
      what: `the background tunnel to "${options.machine}"`,
      timeoutMs,
      initialDelayMs: 10,
      maxDelayMs: 100,
      jitter: false,
      signal: exited.signal,
      abortError: () => new MoorError(childFailure(logPath, options.machine), childFailureOptions(options)),
      onTimeout: () => {
        child.kill('SIGTERM');
        throw new MoorError(
          `The background tunnel to "${options.machine}" did not start in ${Math.round(timeoutMs / 1000)} s.`,
          { ...childFailureOptions(options), code: 'TUNNEL_START_TIMEOUT', exitCode: 7 },
        );
      },
    },
  );
  child.unref();
  return record;
}

function childFailureOptions(options: SpawnTunnelOptions) {
  return {
    code: 'TUNNEL_START_FAILED',
    suggestions: [
      `Its log is ${join(options.machineDir, TUNNEL_LOG_FILE)}.`,
      `Run "moor tunnel ${options.machine}" in the foreground to see it fail step by step.`,
    ],
  };
}

/** The tunnel process's error: the last lines of its log (which the base command wrote as "Error: ..."). */
function childFailure(logPath: string, machine: string): string {
  let log = '';
  try {
    log = readFileSync(logPath, 'utf8');
  } catch {
    // nothing logged
  }
  const lines = log.split('\n').filter((line) => line.trim() !== '');
  const errorAt = lines.findIndex((line) => /^(\S+ )?(Error|error):/.test(line) || line.startsWith(' ›   Error'));
  const detail = (errorAt >= 0 ? lines.slice(errorAt) : lines.slice(-3)).join(' ').replace(/\s+/g, ' ').trim();
  return `The background tunnel to "${machine}" could not start${detail ? `: ${detail}` : '.'}`;
}

/**
 * Stops the machine's background tunnel: SIGTERM (it closes its connections and removes its socket), then
 * SIGKILL if it has not exited within `graceMs`. Resolves with the stopped record, or undefined if none ran.
 */
export async function stopBackgroundTunnel(
  machineDir: string,
  machine: string,
  graceMs = 5_000,
): Promise<TunnelRecord | undefined> {
  const record = runningTunnel(machineDir, machine);
  if (!record) {
    await rm(join(machineDir, TUNNEL_STATE_FILE), { force: true });
    return undefined;
  }
  signal(record.Pid, 'SIGTERM');
  if (!(await exitsWithin(record.Pid, graceMs))) {
    signal(record.Pid, 'SIGKILL');
    await exitsWithin(record.Pid, 2_000);
  }
  await rm(join(machineDir, TUNNEL_STATE_FILE), { force: true });
  if (record.DockerHost.startsWith('unix://')) {
    // A killed tunnel could not remove its socket; a stopped one did already.
    await rm(record.DockerHost.slice('unix://'.length), { force: true }).catch(() => undefined);
  }
  return record;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if (!isErrno(error, 'ESRCH')) throw error;
  }
}

/** Whether the process is gone within `timeoutMs` (checked every 20 ms). */
function exitsWithin(pid: number, timeoutMs: number): Promise<boolean> {
  return waitFor(() => !processAlive(pid) || notYet(), {
    what: `process ${pid} to exit`,
    timeoutMs,
    initialDelayMs: 20,
    maxDelayMs: 20,
    jitter: false,
    onTimeout: () => false,
  });
}
