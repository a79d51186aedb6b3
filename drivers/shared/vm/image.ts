/**
 * A VM driver's machine image: downloaded once into <store>/cache/images/, verified against its SHA-256 or
 * SHA-512 (the published SHA256SUMS/SHA512SUMS next to it, or --<driver>-image-checksum), reused by later
 * creates. An interrupted download is resumed with an HTTP Range request (or restarted when the server
 * ignores it). A local path is used where it is. Shared by the virtualbox and qemu drivers.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve as resolvePath } from 'node:path';
import { ensureDir, isErrno, type Logger, MoorError, UsageError, withFileLock, writeFileAtomic } from '../../api.js';

export interface ImageSource {
  /** http(s) URL or local path. */
  location: string;
  /**
   * Expected SHA-256 or SHA-512 (hex, as normalizeChecksum returns it); undefined: from the sums files next
   * to the URL (none for a local file).
   */
  checksum?: string;
  /** The files next to the URL that may list its checksum, first match wins (default SHA256SUMS). */
  sumsFiles?: string[];
}

export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** A SHA-256 or SHA-512 in hex (an optional "sha256:"/"sha512:" prefix is dropped); `flag` names it in errors. */
export function normalizeChecksum(value: string, flag: string): string {
  const hex = value
    .trim()
    .replace(/^sha(256|512):/i, '')
    .toLowerCase();
  if (!/^([0-9a-f]{64}|[0-9a-f]{128})$/.test(hex)) {
    throw new UsageError(`--${flag} must be a SHA-256 or SHA-512 in hex (64 or 128 characters); got "${value}".`);
  }
  return hex;
}

/** The hash a hex checksum is of, by its length. */
function algorithmOf(hex: string): 'sha256' | 'sha512' {
  return hex.length === 128 ? 'sha512' : 'sha256';
}

export class ChecksumMismatchError extends MoorError {
  constructor(what: string, expected: string, actual: string, flag: string) {
    const algorithm = algorithmOf(expected) === 'sha512' ? 'SHA-512' : 'SHA-256';
    super(`The image ${what} does not match its checksum: expected ${algorithm} ${expected}, got ${actual}.`, {
      code: 'IMAGE_CHECKSUM_MISMATCH',
      suggestions: [
        'The download was damaged or the image changed since its checksum was published: run create again.',
        `If you gave --${flag}, check that it belongs to this image.`,
      ],
    });
  }
}

export async function hashFile(path: string, algorithm: 'sha256' | 'sha512' = 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The line for `file` in a SHA256SUMS or SHA512SUMS text ("<hex> *name" or "<hex>  name"). */
export function checksumFromSums(text: string, file: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const match = /^([0-9a-fA-F]{128}|[0-9a-fA-F]{64})\s+\*?(.+)$/.exec(line.trim());
    if (match && match[2]!.trim() === file) return match[1]!.toLowerCase();
  }
  return undefined;
}

export interface ImageOptions {
  cacheDir: string;
  log: Logger;
  /** Progress: a bar on a TTY, plain lines otherwise. */
  progress?: (done: number, total: number | undefined) => void;
  /** Attempts for one download (the later ones resume). */
  attempts?: number;
  /** The driver's image flags' common prefix, for messages: "qemu-image" names --qemu-image-url and -checksum. */
  flag: string;
}

/** The file to clone the machine's disk from: a local path, or the cached (and verified) download. */
export async function ensureImage(source: ImageSource, options: ImageOptions): Promise<string> {
  if (!isUrl(source.location)) return localImage(source, options.flag);
  const url = new URL(source.location);
  const name = basename(url.pathname) || 'image';
  const key = createHash('sha256').update(url.href).digest('hex').slice(0, 12);
  const dir = join(options.cacheDir, 'images');
  const target = join(dir, `${key}-${name}`);
  // <target>.sha256 or .sha512 holds the verified checksum of a complete download.
  const algorithms = source.checksum ? [algorithmOf(source.checksum)] : (['sha256', 'sha512'] as const);
  const isCached = async () => {
    for (const algorithm of algorithms) {
      const cached = await readFile(`${target}.${algorithm}`, 'utf8').then(
        (text) => text.trim(),
        () => undefined,
      );
      if (cached && (await fileSize(target)) !== undefined && (!source.checksum || source.checksum === cached))
        return true;
    }
    return false;
  };
  if (await isCached()) {
    options.log.info(`Using the cached image ${target}`);
    return target;
  }
  await ensureDir(dir);
  // One download per image at a time: parallel creates wait for it, then find it cached.
  return withFileLock(
    `${target}.lock`,
    { operation: `download ${url.href}`, subject: `The image download ${name}`, timeoutMs: 6 * 3_600_000 },
    async () => {
      if (await isCached()) return target;
      const expected = source.checksum ?? (await publishedChecksum(url, name, source.sumsFiles, options.flag));
      const partial = `${target}.part`;
      await download(url, partial, options);
      const actual = await hashFile(partial, algorithmOf(expected));
      if (actual !== expected) {
        await rm(partial, { force: true });
        throw new ChecksumMismatchError(url.href, expected, actual, `${options.flag}-checksum`);
      }
      await rename(partial, target);
      await writeFileAtomic(`${target}.${algorithmOf(expected)}`, `${actual}\n`, 0o644);
      return target;
    },
  );
}

async function localImage(source: ImageSource, flag: string): Promise<string> {
  const path = resolvePath(source.location);
  if ((await fileSize(path)) === undefined) {
    throw new UsageError(`--${flag}-url: ${path} is neither an http(s) URL nor a readable file.`);
  }
  if (source.checksum) {
    const actual = await hashFile(path, algorithmOf(source.checksum));
    if (actual !== source.checksum) throw new ChecksumMismatchError(path, source.checksum, actual, `${flag}-checksum`);
  }
  return path;
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
    throw error;
  }
}

async function publishedChecksum(
  url: URL,
  name: string,
  sumsFiles: string[] | undefined,
  flag: string,
): Promise<string> {
  const misses: string[] = [];
  for (const file of sumsFiles ?? ['SHA256SUMS']) {
    const sumsUrl = new URL(file, url);
    let response: Response;
    try {
      response = await fetch(sumsUrl, { redirect: 'follow' });
    } catch (error) {
      throw downloadError(sumsUrl.href, error);
    }
    const checksum = response.ok ? checksumFromSums(await response.text(), name) : undefined;
    if (checksum) return checksum;
    if (!response.ok) await response.body?.cancel();
    misses.push(`${sumsUrl.href}${response.ok ? '' : ` (HTTP ${response.status})`}`);
  }
  throw new MoorError(`No checksum for ${name} in ${misses.join(' or ')}.`, {
    code: 'IMAGE_CHECKSUM_UNKNOWN',
    suggestions: [`Give the image's SHA-256 or SHA-512 with --${flag}-checksum.`],
  });
}

function downloadError(url: string, error: unknown): MoorError {
  const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
  return new MoorError(`Could not download ${url}: ${cause}.`, {
    code: 'IMAGE_DOWNLOAD_FAILED',
    suggestions: ['Check the network and the URL, then run create again: a partial download is resumed.'],
    cause: error,
  });
}

/**
 * Downloads `url` into `partial`, resuming what is there: Range from its size; a 206 appends, a 200
 * starts over. Retries an interrupted transfer (each retry resumes).
 */
async function download(url: URL, partial: string, options: ImageOptions): Promise<void> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      await downloadOnce(url, partial, options);
      return;
    } catch (error) {
      if (error instanceof MoorError || attempt >= attempts)
        throw error instanceof MoorError ? error : downloadError(url.href, error);
      options.log.warn(`Download of ${url.href} interrupted (${(error as Error).message}); resuming.`);
    }
  }
}

async function downloadOnce(url: URL, partial: string, options: ImageOptions): Promise<void> {
  const have = (await fileSize(partial)) ?? 0;
  const response = await fetch(url, {
    redirect: 'follow',
    headers: have > 0 ? { Range: `bytes=${have}-` } : {},
  });
  if (response.status === 416 && have > 0) {
    // Everything is there already (or the partial file is bigger than the image: the checksum decides).
    await response.body?.cancel();
    return;
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    throw new MoorError(`Could not download ${url.href}: HTTP ${response.status} ${response.statusText}.`, {
      code: 'IMAGE_DOWNLOAD_FAILED',
      suggestions: [`Check --${options.flag}-url.`],
    });
  }
  const resumed = response.status === 206 && have > 0;
  if (have > 0)
    options.log.info(
      resumed ? `Resuming the download at ${have} bytes` : 'The server cannot resume: downloading again',
    );
  const length = Number(response.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? length + (resumed ? have : 0) : undefined;
  const file = await open(partial, resumed ? 'a' : 'w', 0o644);
  let done = resumed ? have : 0;
  try {
    if (!response.body) throw new Error('empty response');
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      await file.write(chunk);
      done += chunk.length;
      options.progress?.(done, total);
    }
  } finally {
    await file.close();
  }
  if (total !== undefined && done < total) throw new Error(`connection closed after ${done} of ${total} bytes`);
}
