/**
 * The machine store: <root>/certs (CA and client certificate), <root>/machines/<name>/ (config.json plus
 * that machine's keys and certificates), <root>/locks. Folders are 0700, keys and config 0600.
 * Every write is atomic; every mutation of a machine happens under that machine's lock.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { BadConfigError, MachineExistsError, MachineNotFoundError, MoorError } from './errors.js';
import { ensureDir, isErrno, uniqueSuffix, PRIVATE_FILE_MODE, writeFileAtomic } from './fsutil.js';
import { withFileLock } from './lock.js';
import { assertValidName, type MachineRecord, validateRecord } from './machine.js';

export interface StoredFile {
  name: string;
  data: string | Uint8Array;
  mode?: number;
}

export type LoadResult =
  { name: string; record: MachineRecord; error?: undefined } | { name: string; record?: undefined; error: MoorError };

export function defaultStoragePath(env: NodeJS.ProcessEnv = process.env): string {
  return env['MOOR_STORAGE_PATH'] || join(homedir(), '.moor');
}

export class Store {
  readonly root: string;
  /** The environment the store's machines are driven with (drivers read it through their context). */
  readonly env: NodeJS.ProcessEnv;

  constructor(root: string = defaultStoragePath(), options: { env?: NodeJS.ProcessEnv } = {}) {
    this.root = resolve(root);
    this.env = options.env ?? process.env;
  }

  get machinesDir(): string {
    return join(this.root, 'machines');
  }
  get certsDir(): string {
    return join(this.root, 'certs');
  }
  get locksDir(): string {
    return join(this.root, 'locks');
  }
  get cacheDir(): string {
    return join(this.root, 'cache');
  }

  machineDir(name: string): string {
    return join(this.machinesDir, name);
  }

  configPath(name: string): string {
    return join(this.machineDir(name), 'config.json');
  }

  /** Creates the store's folders with their modes. Cheap when they exist. */
  async init(): Promise<void> {
    await ensureDir(this.root);
    await Promise.all([ensureDir(this.machinesDir), ensureDir(this.certsDir), ensureDir(this.locksDir)]);
  }

  /** Machine names in the store (folders of machines/), in no particular order. */
  async names(): Promise<string[]> {
    try {
      const entries = await readdir(this.machinesDir, { withFileTypes: true });
      return entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => entry.name);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return [];
      throw error;
    }
  }

  async exists(name: string): Promise<boolean> {
    try {
      await readFile(this.configPath(name));
      return true;
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
      throw error;
    }
  }

  async load(name: string): Promise<MachineRecord> {
    assertValidName(name);
    const file = this.configPath(name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw await this.readError(name, file, error);
    }
    return parseRecord(name, file, text);
  }

  /**
   * Loads every machine; a broken one becomes an error entry and never hides the others.
   * The config files are small and read synchronously: one thread-pool round trip per file (open, stat,
   * read, close) is what made `ls` slow with many machines, not the reading itself.
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
    if (!isErrno(error, 'ENOENT', 'ENOTDIR')) return error;
    if (await this.hasFolder(name)) return new BadConfigError(name, 'config.json is missing', file);
    return new MachineNotFoundError(name);
  }

  /**
   * Adds a new machine atomically: its folder is assembled under a hidden name, then renamed into
   * place, so no reader ever sees a machine without its config.json. Call under the machine's lock.
   */
  async add(record: MachineRecord, files: StoredFile[] = []): Promise<void> {
    await this.init();
    if (await this.hasFolder(record.Name)) throw new MachineExistsError(record.Name);
    const staging = join(this.machinesDir, `.new-${record.Name}-${process.pid}-${uniqueSuffix()}`);
    try {
      await ensureDir(staging);
      await Promise.all(
        files.map((file) => writeFileAtomic(join(staging, file.name), file.data, file.mode ?? PRIVATE_FILE_MODE)),
      );
      await writeFileAtomic(join(staging, 'config.json'), serialize(record));
      await rename(staging, this.machineDir(record.Name));
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      if (isErrno(error, 'ENOTEMPTY', 'EEXIST')) throw new MachineExistsError(record.Name);
      throw error;
    }
  }

  /** Replaces the record of an existing machine. Call under the machine's lock. */
  async save(record: MachineRecord): Promise<void> {
    await writeFileAtomic(this.configPath(record.Name), serialize(record));
  }

  /** Writes a file into an existing machine's folder. */
  async writeMachineFile(name: string, file: StoredFile): Promise<void> {
    await writeFileAtomic(join(this.machineDir(name), file.name), file.data, file.mode ?? PRIVATE_FILE_MODE);
  }

  /** Removes a machine's folder: it disappears at once (rename), then its files are deleted. */
  async remove(name: string): Promise<void> {
    assertValidName(name);
    const trash = join(this.machinesDir, `.rm-${name}-${process.pid}-${uniqueSuffix()}`);
    try {
      await rename(this.machineDir(name), trash);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new MachineNotFoundError(name);
      throw error;
    }
    await rm(trash, { recursive: true, force: true });
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
    await ensureDir(this.root);
    await ensureDir(this.locksDir);
    return withFileLock(
      join(this.locksDir, `${key}.lock`),
      { operation, subject, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
      fn,
    );
  }

  private async hasFolder(name: string): Promise<boolean> {
    try {
      return (await stat(this.machineDir(name))).isDirectory();
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return false;
      throw error;
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
