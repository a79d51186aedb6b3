/**
 * The machine image: downloaded once into <store>/cache/images/, verified against its SHA-256 (the
 * published SHA256SUMS next to it, or --virtualbox-image-checksum), reused by later creates. An
 * interrupted download is resumed with an HTTP Range request (or restarted when the server ignores it).
 * A local path is used where it is.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve as resolvePath } from 'node:path';
import { ensureDir, isErrno, type Logger, MoorError, UsageError, withFileLock, writeFileAtomic } from '../api.js';

export interface ImageSource {
  /** http(s) URL or local path. */
  location: string;
  /** Expected SHA-256 (hex); undefined: from SHA256SUMS next to the URL (none for a local file). */
  checksum?: string;
}

export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

export function normalizeChecksum(value: string): string {
  const hex = value
    .trim()
    .replace(/^sha256:/i, '')
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new UsageError(`--virtualbox-image-checksum must be a SHA-256 in hex (64 characters); got "${value}".`);
  }
  return hex;
}

export class ChecksumMismatchError extends MoorError {
  constructor(what: string, expected: string, actual: string) {
    super(`The image ${what} does not match its checksum: expected SHA-256 ${expected}, got ${actual}.`, {
      code: 'IMAGE_CHECKSUM_MISMATCH',
      suggestions: [
        'The download was damaged or the image changed since its checksum was published: run create again.',
        'If you gave --virtualbox-image-checksum, check that it belongs to this image.',
      ],
    });
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The line for `file` in a SHA256SUMS text ("<hex> *name" or "<hex>  name"). */
export function checksumFromSums(text: string, file: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const match = /^([0-9a-fA-F]{64})\s+\*?(.+)$/.exec(line.trim());
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
}

/** The file to clone the machine's disk from: a local path, or the cached (and verified) download. */
export async function ensureImage(source: ImageSource, options: ImageOptions): Promise<string> {
  if (!isUrl(source.location)) return localImage(source);
  const url = new URL(source.location);
  const name = basename(url.pathname) || 'image';
  const key = createHash('sha256').update(url.href).digest('hex').slice(0, 12);
  const dir = join(options.cacheDir, 'images');
  const target = join(dir, `${key}-${name}`);
  const verified = `${target}.sha256`;
  const isCached = async () => {
    const cached = await readFile(verified, 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    );
    return cached && (await fileSize(target)) !== undefined && (!source.checksum || source.checksum === cached);
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
      const expected = source.checksum ?? (await publishedChecksum(url, name));
      const partial = `${target}.part`;
      await download(url, partial, options);
      const actual = await sha256File(partial);
      if (actual !== expected) {
        await rm(partial, { force: true });
        throw new ChecksumMismatchError(url.href, expected, actual);
      }
      await rename(partial, target);
      await writeFileAtomic(verified, `${actual}\n`, 0o644);
      return target;
    },
  );
}

async function localImage(source: ImageSource): Promise<string> {
  const path = resolvePath(source.location);
  if ((await fileSize(path)) === undefined) {
    throw new UsageError(`--virtualbox-image-url: ${path} is neither an http(s) URL nor a readable file.`);
  }
  if (source.checksum) {
    const actual = await sha256File(path);
    if (actual !== source.checksum) throw new ChecksumMismatchError(path, source.checksum, actual);
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

async function publishedChecksum(url: URL, name: string): Promise<string> {
  const sumsUrl = new URL('SHA256SUMS', url);
  let response: Response;
  try {
    response = await fetch(sumsUrl, { redirect: 'follow' });
  } catch (error) {
    throw downloadError(sumsUrl.href, error);
  }
  const checksum = response.ok ? checksumFromSums(await response.text(), name) : undefined;
  if (!checksum) {
    throw new MoorError(
      `No SHA-256 for ${name} in ${sumsUrl.href}${response.ok ? '' : ` (HTTP ${response.status})`}.`,
      {
        code: 'IMAGE_CHECKSUM_UNKNOWN',
        suggestions: ["Give the image's SHA-256 with --virtualbox-image-checksum."],
      },
    );
  }
  return checksum;
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
      suggestions: ['Check --virtualbox-image-url.'],
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
