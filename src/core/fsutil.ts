import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fsync,
  mkdirSync,
  openSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/** Folders holding keys, certificates and machine records: owner only. */
export const DIR_MODE = 0o700;
/** Private keys and config files: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Certificates are public, but Docker Machine kept them 0600 and so do we: nothing else needs them. */
export const CERT_FILE_MODE = 0o600;

/**
 * mkdir -p with an explicit mode (the umask would otherwise loosen or tighten it) on the folders this call
 * creates, and only on those: a folder that exists is the user's, and its mode is left as it is (a store
 * made read-only stays read-only). Synchronous calls (see writeNewFile), in a promise for the callers.
 */
export async function ensureDir(path: string, mode = DIR_MODE): Promise<void> {
  let first: string | undefined;
  try {
    first = mkdirSync(path, { recursive: true, mode });
  } catch (error) {
    // Node's recursive mkdir says ENOENT where mkdir(2) said EROFS (a read-only store): ask mkdir(2) itself.
    if (!isErrno(error, 'ENOENT')) throw error;
    mkdirSync(path, { mode });
    first = path;
  }
  if (first === undefined) return;
  const created = resolve(first);
  for (let dir = resolve(path); dir.startsWith(created); dir = dirname(dir)) {
    chmodSync(dir, mode);
    if (dir === created || dirname(dir) === dir) break;
  }
}

/**
 * Writes `path` atomically: a temporary file in the same folder, flushed to disk, then renamed over the
 * target. Readers see the old content or the new one, never a mix; a crash leaves at most a temp file.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = PRIVATE_FILE_MODE,
): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${uniqueSuffix()}`;
  await writeNewFile(temp, data, mode, { sync: true });
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Creates `path` (it must not exist) with `data`, and `mode` whatever the umask; `sync` flushes it to disk.
 * A write that fails (a full disk) removes the file: no empty or partial file is left behind.
 * moor's files are a few KB at most: they are made and written at once (synchronous calls, microseconds
 * each), where each asynchronous call was a round trip through libuv's thread pool and a turn of the event
 * loop (a create made some twenty). Only the flush, which waits for the device, goes through the pool, so
 * that files written side by side (Promise.all) are flushed side by side.
 */
export async function writeNewFile(
  path: string,
  data: string | Uint8Array,
  mode: number,
  options: { sync?: boolean } = {},
): Promise<void> {
  const fd = openSync(path, 'wx', mode);
  try {
    writeFileSync(fd, data);
    fchmodSync(fd, mode);
    if (options.sync) await flush(fd);
  } catch (error) {
    // The first error is the one to report.
    ignoreErrors(() => closeSync(fd));
    ignoreErrors(() => unlinkSync(path));
    throw error;
  }
  closeSync(fd);
}

function ignoreErrors(call: () => void): void {
  try {
    call();
  } catch {
    // best effort
  }
}

/** fsync(2) through node:fs's callback (node:fs/promises costs an everyday command some 2 ms to load). */
function flush(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/** Whether no process `pid` runs on this host (a process of another user still counts as running). */
export function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return isErrno(error, 'ESRCH');
  }
}

const TEMP_FILE = /\.tmp-(\d+)-[0-9a-z]+$/;

/**
 * Deletes the temp files that writeFileAtomic left in `dir` when its process died before the rename.
 * Best effort: what cannot be deleted stays, and the caller's work goes on.
 */
export async function removeStaleTempFiles(dir: string, names?: string[]): Promise<void> {
  let entries = names;
  if (entries === undefined) {
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
  }
  await Promise.all(
    entries.map(async (name) => {
      const pid = TEMP_FILE.exec(name)?.[1];
      if (pid !== undefined && processIsGone(Number(pid)))
        await rm(join(dir, name), { force: true }).catch(() => undefined);
    }),
  );
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

export function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && 'code' in error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

export async function ensureParent(path: string): Promise<void> {
  await ensureDir(dirname(path));
}

let counter = 0;
/** A name part unique among this process's temp files (node:crypto is not worth loading for it). */
export function uniqueSuffix(): string {
  counter += 1;
  return `${counter.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** Whether `path` is a regular file this process may execute (a program found on PATH or in a folder). */
export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
