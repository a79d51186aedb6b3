/**
 * Cross-process advisory locks as files created with O_EXCL. The file names the holder (pid, host,
 * operation) so that a waiter can say who it waits for, and so that a lock left by a dead process is
 * broken instead of blocking forever.
 */
import { hostname } from 'node:os';
import { link, readFile, rename, unlink } from 'node:fs/promises';
import { TimeoutError } from './errors.js';
import { isErrno, processIsGone, writeNewFile } from './fsutil.js';
import { notYet, waitFor } from './wait.js';

export interface LockOptions {
  /** What the holder is doing, shown to whoever waits. */
  operation: string;
  /** How long to wait for a busy lock before giving up. */
  timeoutMs?: number;
  /** Human name of the locked thing, for the error message. */
  subject?: string;
}

interface Holder {
  pid: number;
  host: string;
  operation: string;
  since: string;
}

/** This host's name, asked once, when a lock is first taken or checked (not when the module loads). */
let host: string | undefined;
const thisHost = (): string => (host ??= hostname());

export async function withFileLock<T>(path: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  await acquire(path, options);
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

/**
 * Creates the lock file, waiting while another live process holds it (5-10 ms doubling up to 100-200 ms
 * between tries). A lock whose holder is dead is broken and taken at once, without a pause.
 */
async function acquire(path: string, options: LockOptions): Promise<void> {
  const me: Holder = {
    pid: process.pid,
    host: thisHost(),
    operation: options.operation,
    since: new Date().toISOString(),
  };
  await waitFor(
    async () => {
      for (;;) {
        if (await tryCreate(path, me)) return true;
        const holder = await readHolder(path);
        if (!holder || !isStale(holder)) return notYet(holder);
        await breakStaleLock(path, holder);
      }
    },
    {
      what: options.subject ?? path,
      timeoutMs: options.timeoutMs ?? 30_000,
      initialDelayMs: 10,
      maxDelayMs: 200,
      onTimeout: ({ reason }) => {
        const holder = reason as Holder | undefined;
        const who = holder
          ? `process ${holder.pid} (${holder.operation}, since ${holder.since})`
          : 'another moor process';
        throw new TimeoutError(`${options.subject ?? path} is busy: ${who} holds its lock.`, [
          'Wait for that command to finish and try again.',
          `If no moor process is running, remove the stale lock file ${path}.`,
        ]);
      },
    },
  );
}

/** Creates the lock file naming `me`; false when it exists already. */
async function tryCreate(path: string, me: Holder): Promise<boolean> {
  try {
    // A write that fails (a full disk) removes the file: an empty lock file names no holder, and every later
    // waiter would wait for it to time out.
    await writeNewFile(path, JSON.stringify(me), 0o600);
    return true;
  } catch (error) {
    if (isErrno(error, 'EEXIST')) return false;
    throw error;
  }
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Holder;
  } catch {
    return undefined; // being written or just removed: retry
  }
}

function isStale(holder: Holder): boolean {
  if (holder.host !== thisHost() || typeof holder.pid !== 'number') return false;
  return processIsGone(holder.pid);
}

/**
 * Moves the stale file aside, then checks that what was moved is the stale holder's; if another process
 * took the lock in between, its file is put back (link fails if a third took it meanwhile, which is fine:
 * that one holds the lock then).
 */
async function breakStaleLock(path: string, stale: Holder): Promise<void> {
  const aside = `${path}.stale-${process.pid}`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  const moved = await readHolder(aside);
  if (moved && (moved.pid !== stale.pid || moved.since !== stale.since)) {
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}
