/**
 * The machine store: <root>/certs (CA and client certificate), <root>/machines/<name>/ (config.json plus
 * that machine's keys and certificates), <root>/locks. Folders moor creates are 0700, keys and config 0600;
 * folders that exist keep their modes. Every write is atomic, and a machine is added or removed whole or not
 * at all: a staging folder a crashed process left (.new-*, .rm-*) is rolled back or finished by the next
 * command that lists the machines. Every mutation of a machine happens under that machine's lock. File
 * system errors leave the store as StoreErrors (storeError) that name the path and the fix.
 */
import { constants, readdirSync, readFileSync } from 'node:fs';
import { access, readdir, rename, rm, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { BadConfigError, MachineExistsError, MachineNotFoundError, MoorError, StoreError } from './errors.js';
import {
  ensureDir,
  isErrno,
  processIsGone,
  removeStaleTempFiles,
  uniqueSuffix,
  PRIVATE_FILE_MODE,
  writeFileAtomic,
  writeNewFile,
} from './fsutil.js';
import { withFileLock } from './lock.js';
import { assertValidName, type MachineRecord, validateRecord } from './machine.js';

export interface StoredFile {
  name: string;
  data: string | Uint8Array;
  mode?: number;
}

export type LoadResult =
  { name: string; record: MachineRecord; error?: undefined } | { name: string; record?: undefined; error: MoorError };

/** A name that is one path segment as it stands (a machine name: see NAME_PATTERN in machine.ts). */
const PLAIN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]*$/;

/** Waits for every write, then throws the first failure: nothing is still writing when an error is handled. */
async function allSettledOrThrow(writes: Promise<void>[]): Promise<void> {
  for (const result of await Promise.allSettled(writes)) if (result.status === 'rejected') throw result.reason;
}

export function defaultStoragePath(env: NodeJS.ProcessEnv = process.env): string {
  return env['MOOR_STORAGE_PATH'] || join(homedir(), '.moor');
}

export class Store {
  readonly root: string;
  /** The environment the store's machines are driven with (drivers read it through their context). */
  readonly env: NodeJS.ProcessEnv;

  readonly machinesDir: string;
  readonly certsDir: string;
  readonly locksDir: string;
  readonly cacheDir: string;

  constructor(root: string = defaultStoragePath(), options: { env?: NodeJS.ProcessEnv } = {}) {
    this.root = resolve(root);
    this.env = options.env ?? process.env;
    this.machinesDir = join(this.root, 'machines');
    this.certsDir = join(this.root, 'certs');
    this.locksDir = join(this.root, 'locks');
    this.cacheDir = join(this.root, 'cache');
  }

  /**
   * A machine's folder. A machine's name is one plain path segment, so no path.join is needed: ls computes a
   * few paths for every machine, and path.join's normalization loop got hot enough for V8 to compile it
   * with its optimizing compiler, which cost every `ls` of many machines some 4 MB of memory.
   */
  machineDir(name: string): string {
    return PLAIN_NAME.test(name) ? `${this.machinesDir}${sep}${name}` : join(this.machinesDir, name);
  }

  configPath(name: string): string {
    return `${this.machineDir(name)}${sep}config.json`;
  }

  /**
   * Runs `fn`, which works on the store's files, turning its file system errors into StoreErrors. For code
   * outside this class that writes into the store (certificates, the previous context).
   */
  async guard<T>(access: StoreAccess, fn: () => Promise<T>, where = this.root): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw await storeError(error, access, where);
    }
  }

  /** Creates the store's folders (0700 when it creates them). Cheap when they exist. */
  async init(): Promise<void> {
    await this.guard('write', async () => {
      await ensureDir(this.root);
      await Promise.all([ensureDir(this.machinesDir), ensureDir(this.certsDir), ensureDir(this.locksDir)]);
    });
  }

  /**
   * Machine names in the store (folders of machines/), in no particular order. Staging folders of dead
   * processes are cleaned up on the way, only when there are any (this is on the path of every `ls`).
   */
  async names(): Promise<string[]> {
    let entries: Dirent[];
    try {
      entries = readdirSync(this.machinesDir, { withFileTypes: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw await storeError(error, 'read');
    }
    const hidden = entries.filter((entry) => entry.name.startsWith('.'));
    if (hidden.length > 0) await this.recoverStaging(hidden.map((entry) => entry.name));
    return entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => entry.name);
  }

  async exists(name: string): Promise<boolean> {
    try {
      readFileSync(this.configPath(name));
      return true;
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
      throw await storeError(error, 'read');
    }
  }

  async load(name: string): Promise<MachineRecord> {
    assertValidName(name);
    const file = this.configPath(name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw await this.readError(name, file, error);
    }
    return parseRecord(name, file, text);
  }

  /**
   * Loads every machine; a broken one becomes an error entry and never hides the others.
   * The store's reads (this folder, config files) are small and synchronous: one thread-pool round trip per
   * file (open, stat, read, close) is what made `ls` slow with many machines, not the reading itself, and
   * a read-only command that never uses the thread pool does not start its four threads (2-3 MB of memory).
   */
  async loadAll(): Promise<LoadResult[]> {
    const names = await this.names();
    return Promise.all(
      names.map(async (name): Promise<LoadResult> => {
        const file = this.configPath(name);
        try {
          let text: string;
          try {
            text = readFileSync(file, 'utf8');
          } catch (error) {
            throw await this.readError(name, file, error);
          }
          return { name, record: parseRecord(name, file, text) };
        } catch (error) {
          if (error instanceof MoorError) return { name, error };
          throw error;
        }
      }),
    );
  }

  private async readError(name: string, file: string, error: unknown): Promise<unknown> {
    if (!isErrno(error, 'ENOENT', 'ENOTDIR')) return storeError(error, 'read');
    if (await this.hasFolder(name)) return new BadConfigError(name, 'config.json is missing', file);
    return new MachineNotFoundError(name);
  }

  /**
   * Adds a new machine atomically: its folder is assembled under a hidden name, then renamed into
   * place, so no reader ever sees a machine without its config.json. Call under the machine's lock.
   */
  async add(record: MachineRecord, files: StoredFile[] = []): Promise<void> {
    await this.init();
    await Promise.all([removeStaleTempFiles(this.root), removeStaleTempFiles(this.certsDir)]);
    if (await this.hasFolder(record.Name)) throw new MachineExistsError(record.Name);
    const staging = join(this.machinesDir, `.new-${record.Name}-${process.pid}-${uniqueSuffix()}`);
    try {
      await ensureDir(staging);
      // The folder appears whole (the rename below): its files need no temporary names of their own, and
      // are written side by side, each flushed to disk.
      await allSettledOrThrow(
        [...files, { name: 'config.json', data: serialize(record) }].map((file) =>
          writeNewFile(join(staging, file.name), file.data, file.mode ?? PRIVATE_FILE_MODE, { sync: true }),
        ),
      );
      await rename(staging, this.machineDir(record.Name));
    } catch (error) {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      if (isErrno(error, 'ENOTEMPTY', 'EEXIST')) throw new MachineExistsError(record.Name);
      throw await storeError(error, 'write', this.machinesDir);
    }
  }

  /** Replaces the record of an existing machine. Call under the machine's lock. */
  async save(record: MachineRecord): Promise<void> {
    await this.writeMachineFile(record.Name, { name: 'config.json', data: serialize(record) });
  }

  /** Writes a file into an existing machine's folder (and deletes the temp files dead writers left there). */
  async writeMachineFile(name: string, file: StoredFile): Promise<void> {
    await this.writeMachineFiles(name, [file]);
  }

  /**
   * Writes files into a machine's folder, each atomically, side by side; all of them are settled before an
   * error is reported (the first one).
   */
  async writeMachineFiles(name: string, files: StoredFile[]): Promise<void> {
    const dir = this.machineDir(name);
    await this.guard(
      'write',
      async () => {
        await removeStaleTempFiles(dir);
        await allSettledOrThrow(
          files.map((file) => writeFileAtomic(join(dir, file.name), file.data, file.mode ?? PRIVATE_FILE_MODE)),
        );
      },
      dir,
    );
  }

  /**
   * Removes a machine's folder whole or not at all: moor first checks that it can delete everything in it,
   * then the folder disappears at once (rename) and its files are deleted. Should the deletion still fail,
   * the folder is renamed back, and the machine stays as it was (less what was deleted).
   */
  async remove(name: string): Promise<void> {
    await this.assertRemovable(name);
    const dir = this.machineDir(name);
    const trash = join(this.machinesDir, `.rm-${name}-${process.pid}-${uniqueSuffix()}`);
    try {
      await rename(dir, trash);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new MachineNotFoundError(name);
      throw await storeError(error, 'write', dir);
    }
    try {
      await rm(trash, { recursive: true, force: true });
    } catch (error) {
      await rename(trash, dir).catch(() => undefined); // if this fails too, the next `ls` retries (recoverStaging)
      throw await storeError(error, 'write', trash);
    }
  }

  /**
   * Fails with a StoreError, before anything is changed, when moor could not remove machine `name`'s folder:
   * deleting needs write access to machines/ and to every folder inside the machine's. So that `rm` runs it
   * before it removes the host too.
   */
  async assertRemovable(name: string): Promise<void> {
    assertValidName(name);
    const writable = async (dir: string) => {
      try {
        await access(dir, constants.W_OK | constants.X_OK);
      } catch (error) {
        if (isErrno(error, 'ENOENT') && dir !== this.machinesDir) throw new MachineNotFoundError(name);
        throw await storeError(error, 'write');
      }
    };
    const check = async (dir: string): Promise<void> => {
      await writable(dir);
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        throw await storeError(error, 'read');
      }
      await Promise.all(entries.filter((entry) => entry.isDirectory()).map((entry) => check(join(dir, entry.name))));
    };
    if (!(await this.hasFolder(name))) throw new MachineNotFoundError(name);
    await writable(this.machinesDir);
    await check(this.machineDir(name));
  }

  /** Runs `fn` holding the lock of machine `name` (other moor processes wait for it). */
  async withMachineLock<T>(name: string, operation: string, fn: () => Promise<T>, timeoutMs?: number): Promise<T> {
    assertValidName(name);
    return this.withLock(`machine-${name}`, operation, fn, `Machine "${name}"`, timeoutMs);
  }

  async withLock<T>(
    key: string,
    operation: string,
    fn: () => Promise<T>,
    subject = key,
    timeoutMs?: number,
  ): Promise<T> {
    let locked = false;
    try {
      await ensureDir(this.root);
      await ensureDir(this.locksDir);
      return await withFileLock(
        join(this.locksDir, `${key}.lock`),
        { operation, subject, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
        () => {
          locked = true;
          return fn();
        },
      );
    } catch (error) {
      if (locked) throw error; // fn's own failure
      throw await storeError(error, 'write', this.locksDir);
    }
  }

  private async hasFolder(name: string): Promise<boolean> {
    try {
      return (await stat(this.machineDir(name))).isDirectory();
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
      throw await storeError(error, 'read');
    }
  }

  /**
   * Finishes or rolls back what dead processes left in machines/: a removal (.rm-NAME-PID-*) is finished,
   * or, when its files cannot be deleted, put back as NAME so that the machine shows again; an addition
   * (.new-NAME-PID-*) never became visible and is deleted. Best effort: on a store moor cannot write, the
   * entries stay (hidden) and the listing goes on. Staging folders of live processes are theirs.
   */
  private async recoverStaging(hidden: string[]): Promise<void> {
    await Promise.all(
      hidden.map(async (entry) => {
        const match = STAGING.exec(entry);
        if (!match || !processIsGone(Number(match[3]))) return;
        const [, kind, name = ''] = match;
        const path = join(this.machinesDir, entry);
        try {
          await rm(path, { recursive: true, force: true });
        } catch {
          if (kind === 'rm' && !(await this.hasFolder(name).catch(() => true))) {
            await rename(path, this.machineDir(name)).catch(() => undefined);
          }
        }
      }),
    );
  }
}

const STAGING = /^\.(rm|new)-(.+)-(\d+)-[0-9a-z]+$/;

export type StoreAccess = 'read' | 'write';

const STORE_FLAG = '--storage-path / MOOR_STORAGE_PATH';

/**
 * The one translation of file system errors met in the store into StoreErrors, each with a code, the path
 * and what to do. `access` says whether moor was reading or writing (EACCES means "cannot read" or "cannot
 * write"), `where` is the path to name when the error names none. Anything that is not a Node file system
 * error (a MoorError, say) is returned as it is.
 */
export async function storeError(error: unknown, access: StoreAccess, where = ''): Promise<unknown> {
  if (!(error instanceof Error) || error instanceof MoorError) return error;
  const errno = error as NodeJS.ErrnoException & { dest?: string };
  if (typeof errno.code !== 'string' || !/^E[A-Z]+$/.test(errno.code)) return error;
  const path = errno.path ?? errno.dest ?? where; // a failed write(2) (ENOSPC) names no path
  const cause = error;
  switch (errno.code) {
    case 'EACCES':
    case 'EPERM':
      return access === 'read'
        ? new StoreError(
            'STORE_NOT_READABLE',
            `moor cannot read its store: permission denied for ${path}.`,
            path,
            [`Check the permissions of ${path} and of its folders, or use ${STORE_FLAG} for another store.`],
            cause,
          )
        : new StoreError(
            'STORE_NOT_WRITABLE',
            `moor cannot write to its store: permission denied for ${path}.`,
            path,
            [`Check the permissions of ${path} and of its folders, or use ${STORE_FLAG} for another store.`],
            cause,
          );
    case 'EROFS':
      return new StoreError(
        'STORE_NOT_WRITABLE',
        `moor cannot write to its store: ${path} is on a read-only file system.`,
        path,
        [`Remount that file system read-write, or use ${STORE_FLAG} for a store on a writable one.`],
        cause,
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreError(
        'STORE_FULL',
        `moor cannot write to its store: no space left on the file system of ${path}` +
          `${errno.code === 'EDQUOT' ? ' (disk quota exceeded)' : ''}. Nothing was changed.`,
        path,
        [`Free some space there, or use ${STORE_FLAG} for a store on another file system.`],
        cause,
      );
    case 'ENAMETOOLONG':
      return new StoreError(
        'NAME_TOO_LONG_FOR_STORE',
        `The path ${path} is too long for the file system of moor's store.`,
        path,
        [`Use a shorter machine name, or ${STORE_FLAG} for a store at a shorter path.`],
        cause,
      );
    case 'ENOTDIR':
    case 'EEXIST': {
      const file = await notAFolder(path);
      if (file === undefined) break;
      return new StoreError(
        'STORE_NOT_A_DIRECTORY',
        `moor cannot use its store: ${file} is a file, not a folder.`,
        file,
        [`Move ${file} aside, or use ${STORE_FLAG} for a store elsewhere.`],
        cause,
      );
    }
  }
  return new StoreError(
    'STORE_IO_ERROR',
    `moor's store failed at ${path || 'a file'}: ${error.message}.`,
    path,
    [`Check ${path || 'the store'}, or use ${STORE_FLAG} for another store.`],
    cause,
  );
}

/**
 * For a caller that catches everything (the CLI's catch): `error` as a StoreError when it is a file system
 * error on a path in the store at `root` (or on one of the store's folders above it), else as it is.
 */
export async function storeErrorUnder(error: unknown, root: string): Promise<unknown> {
  const path = (error as NodeJS.ErrnoException | undefined)?.path;
  if (typeof path !== 'string') return error;
  const full = resolve(path);
  const inStore = full === root || full.startsWith(`${root}/`) || root.startsWith(`${full}/`);
  if (!inStore) return error;
  const syscall = (error as NodeJS.ErrnoException).syscall ?? '';
  return storeError(error, ['scandir', 'stat', 'lstat', 'readlink', 'read'].includes(syscall) ? 'read' : 'write');
}

/** `path` or the nearest of its folders that exists and is not a folder (behind ENOTDIR and mkdir's EEXIST). */
async function notAFolder(path: string): Promise<string | undefined> {
  if (path === '') return undefined;
  for (let current = resolve(path); ; current = dirname(current)) {
    try {
      return (await stat(current)).isDirectory() ? undefined : current;
    } catch {
      if (dirname(current) === current) return undefined;
    }
  }
}

function parseRecord(name: string, file: string, text: string): MachineRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadConfigError(name, `invalid JSON (${(error as Error).message})`, file);
  }
  const problem = validateRecord(value, name);
  if (problem) throw new BadConfigError(name, problem, file);
  return value as MachineRecord;
}

function serialize(record: MachineRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}
