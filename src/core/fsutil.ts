import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Folders holding keys, certificates and machine records: owner only. */
export const DIR_MODE = 0o700;
/** Private keys and config files: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Certificates are public, but Docker Machine kept them 0600 and so do we: nothing else needs them. */
export const CERT_FILE_MODE = 0o600;

/** mkdir -p with an explicit mode (the umask would otherwise loosen or tighten it). */
export async function ensureDir(path: string, mode = DIR_MODE): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  await chmod(path, mode);
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
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
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
