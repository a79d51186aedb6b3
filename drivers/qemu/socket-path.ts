/**
 * Where a machine's QMP socket lives. A unix socket's path is limited (sun_path: 108 bytes on Linux, 104 on
 * macOS, the terminating NUL included), and a long store path (MOOR_STORAGE_PATH) would make QEMU fail to
 * bind it and moor fail to connect. So the socket stays in the machine's folder when its path fits, and
 * otherwise gets a short name in a private runtime folder ($XDG_RUNTIME_DIR/moor, else <tmpdir>/moor-<uid>,
 * else /tmp/moor-<uid>), named by a hash of the machine's folder; the machine's folder then holds a symbolic
 * link to it (for people; moor itself always uses the short path).
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MoorError } from '../api.js';

/** The longest usable socket path in bytes (sun_path less its NUL). */
export function maxSocketPath(platform: NodeJS.Platform): number {
  return platform === 'linux' ? 107 : 103;
}

export interface SocketPlaces {
  platform: NodeJS.Platform;
  uid: number;
  /** $XDG_RUNTIME_DIR, if set. */
  runtimeDir?: string | undefined;
  /** os.tmpdir(). */
  tmpDir: string;
}

export function socketPlaces(env: NodeJS.ProcessEnv): SocketPlaces {
  return {
    platform: process.platform,
    uid: process.getuid?.() ?? 0,
    runtimeDir: env['XDG_RUNTIME_DIR'] || undefined,
    tmpDir: tmpdir(),
  };
}

/** The folder of short socket paths that fits, and the socket's path in it; undefined when the given path fits. */
export function shortSocketPath(path: string, places: SocketPlaces): { dir: string; path: string } | undefined {
  const limit = maxSocketPath(places.platform);
  if (Buffer.byteLength(path) <= limit) return undefined;
  const name = `qmp-${createHash('sha256').update(path).digest('hex').slice(0, 16)}.sock`;
  const dirs = [
    ...(places.runtimeDir ? [join(places.runtimeDir, 'moor')] : []),
    join(places.tmpDir, `moor-${places.uid}`),
    `/tmp/moor-${places.uid}`,
  ];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (Buffer.byteLength(candidate) <= limit) return { dir, path: candidate };
  }
  return { dir: dirs.at(-1)!, path: join(dirs.at(-1)!, name) };
}

/** Makes the private folder of short socket paths (0700), refusing one that another user owns or a link. */
export async function ensureSocketDir(dir: string, uid: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  if (!info.isDirectory() || info.uid !== uid || (info.mode & 0o077) !== 0) {
    throw new MoorError(
      `${dir} (the folder of moor's short QMP socket paths) is not a private folder of this user: its owner or mode is wrong, or it is a link.`,
      {
        code: 'QEMU_START_FAILED',
        suggestions: [`Remove it, or give it to this user with mode 0700: chmod 700 ${dir}`],
      },
    );
  }
}
