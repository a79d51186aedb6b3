/**
 * A tiny container image for end-to-end tests, built locally (no registry is reachable): a rootfs tarball with a
 * static busybox and applet symlinks, for `docker import busybox.tar moor-test/busybox` and then
 * `docker run --rm moor-test/busybox echo hi`.
 *
 * The static busybox comes from /bin/busybox when that is the static build, else from Debian's busybox-static
 * package: a .deb already in the cache folder (test/e2e/testhost/install-deps.sh puts one there), else
 * `apt-get download busybox-static` into a temporary folder; `dpkg-deb -x` unpacks it. The finished tarball is
 * cached (TESTHOST_IMAGE_CACHE, else TH_CACHE or /var/cache/moor-testhost when writable, else
 * ~/.cache/moor-test) and copied into the caller's folder. Needs no root.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, copyFile, mkdir, mkdtemp, open, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Applets linked in /bin (the tests use sh, echo, cat and sleep). */
export const BUSYBOX_APPLETS = [
  'sh',
  'echo',
  'cat',
  'sleep',
  'ls',
  'true',
  'false',
  'env',
  'id',
  'hostname',
  'uname',
  'ps',
  'mkdir',
  'rm',
  'printf',
  'test',
  'wc',
  'grep',
  'head',
  'tail',
  'date',
];

/** Bumped when the image layout changes, so that a stale cached tarball is not reused. */
const LAYOUT_VERSION = '1';

export async function imageCacheDir(): Promise<string> {
  const explicit = process.env['TESTHOST_IMAGE_CACHE'] ?? process.env['TH_CACHE'];
  if (explicit) {
    await mkdir(explicit, { recursive: true });
    return explicit;
  }
  const system = '/var/cache/moor-testhost';
  try {
    await mkdir(system, { recursive: true });
    await access(system, constants.W_OK);
    return system;
  } catch {
    const user = join(homedir(), '.cache', 'moor-test');
    await mkdir(user, { recursive: true });
    return user;
  }
}

/** True when the file is an ELF executable without a program interpreter (PT_INTERP), i.e. statically linked. */
export async function isStaticElf(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    const header = Buffer.alloc(64);
    await handle.read(header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return false; // ELF64 LE
    const phoff = Number(header.readBigUInt64LE(0x20));
    const phentsize = header.readUInt16LE(0x36);
    const phnum = header.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    await handle.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    await handle.close();
  }
}

/** Path of a static busybox binary; unpacks busybox-static into `work` when needed. */
async function staticBusybox(cache: string, work: string): Promise<string> {
  if (await isStaticElf('/bin/busybox')) return '/bin/busybox';
  let deb = (await readdir(cache)).find((f) => f.startsWith('busybox-static_') && f.endsWith('.deb'));
  let debDir = cache;
  if (!deb) {
    debDir = join(work, 'deb');
    await mkdir(debDir);
    try {
      await execFileP('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', 'busybox-static'], {
        cwd: debDir,
      });
    } catch (error) {
      throw new Error(
        `no static busybox: /bin/busybox is not static and "apt-get download busybox-static" failed ` +
          `(run test/e2e/testhost/install-deps.sh): ${(error as Error).message}`,
      );
    }
    deb = (await readdir(debDir)).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download busybox-static produced no .deb');
  }
  const unpacked = join(work, 'busybox-static');
  await execFileP('dpkg-deb', ['-x', join(debDir, deb), unpacked]);
  const binary = join(unpacked, 'bin', 'busybox');
  if (!(await isStaticElf(binary))) throw new Error(`${binary} from ${deb} is not a static executable`);
  return binary;
}

/**
 * Builds (or takes from the cache) the busybox rootfs tarball and copies it to `dir`/busybox.tar; returns that
 * path. The tarball is a plain (uncompressed) tar, owned by root, with /bin/busybox and /bin/<applet> symlinks.
 */
export async function buildBusyboxImageTar(dir: string): Promise<string> {
  const cache = await imageCacheDir();
  const key = createHash('sha256')
    .update(`${LAYOUT_VERSION}\n${BUSYBOX_APPLETS.join(',')}`)
    .digest('hex')
    .slice(0, 8);
  const cached = join(cache, `busybox-image-${key}.tar`);
  try {
    await access(cached);
  } catch {
    const work = await mkdtemp(join(cache, '.busybox-build-'));
    try {
      const root = join(work, 'rootfs');
      for (const d of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev'])
        await mkdir(join(root, d), { recursive: true });
      await copyFile(await staticBusybox(cache, work), join(root, 'bin', 'busybox'));
      await execFileP('chmod', ['0755', join(root, 'bin', 'busybox')]);
      await execFileP('chmod', ['1777', join(root, 'tmp')]);
      for (const applet of BUSYBOX_APPLETS) await symlink('busybox', join(root, 'bin', applet));
      await writeFile(
        join(root, 'etc', 'passwd'),
        'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
      );
      await writeFile(join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
      const tmp = join(work, 'image.tar');
      await execFileP('tar', [
        '-C',
        root,
        '--sort=name',
        '--mtime=@0',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '-cf',
        tmp,
        '.',
      ]);
      await rename(tmp, cached); // atomic: parallel builders just replace an identical file
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  await mkdir(dir, { recursive: true });
  const target = join(dir, 'busybox.tar');
  await copyFile(cached, target);
  return target;
}

/** Reads the list of files in an image tarball (for assertions). */
export async function listImageTar(path: string): Promise<string[]> {
  const { stdout } = await execFileP('tar', ['-tf', path]);
  return stdout.split('\n').filter(Boolean);
}
