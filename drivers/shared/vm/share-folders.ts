/**
 * Shared folders of a VM driver (`--<driver>-share-folder HOST[:GUEST]`): the values checked before
 * anything exists, whatever mounts them (the qemu driver: reverse SSHFS).
 */
import { statSync } from 'node:fs';
import { posix, resolve as resolvePath } from 'node:path';
import { shellQuote, UsageError } from '../../api.js';

/** One shared folder, as stored in the machine's driver state. */
export interface ShareFolder {
  /** Absolute path of the folder on the host. */
  Host: string;
  /** Absolute path where it is mounted inside the VM. */
  Guest: string;
}

/** Guest folders a share may not be mounted on (or under): the VM needs what is there. */
const RESERVED_GUEST = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib64', '/proc', '/run', '/sbin', '/sys', '/usr'];
const RESERVED_GUEST_EXACT = ['/', '/home', '/var', '/var/lib', '/tmp', '/root', '/opt', '/mnt', '/srv'];

function isUnder(path: string, folder: string): boolean {
  return path === folder || path.startsWith(folder === '/' ? '/' : `${folder}/`);
}

/**
 * The share folders of a driver's `--<flag>` values (a repeatable flag whose variable holds several
 * separated by commas): HOST:GUEST, or HOST alone for the same path inside the VM (so that `docker run -v $PWD:/x`
 * works unchanged, as with Docker Desktop and Lima). HOST is resolved against `cwd` and must be an existing
 * folder; GUEST must be absolute, not a system folder, and no two shares may overlap inside the VM.
 */
export function parseShareFolders(
  flag: string,
  values: readonly string[],
  cwd: string,
  isDirectory: (path: string) => boolean = directoryExists,
): ShareFolder[] {
  const shares: ShareFolder[] = [];
  for (const raw of values) {
    const value = raw.trim();
    if (value === '') continue;
    const colon = value.lastIndexOf(':');
    const hostText = colon < 0 ? value : value.slice(0, colon);
    const guestText = colon < 0 ? '' : value.slice(colon + 1);
    const example = `Give --${flag} HOST:GUEST, e.g. --${flag} "$PWD:/work" (or HOST alone for the same path in the VM).`;
    if (hostText === '') throw new UsageError(`--${flag} "${value}" names no host folder.`, [example]);
    const host = resolvePath(cwd, hostText);
    if (!isDirectory(host)) {
      throw new UsageError(`--${flag} "${value}": the host folder ${host} does not exist or is not a folder.`, [
        `Create it first (mkdir -p ${shellQuote(host)}), or check the path.`,
      ]);
    }
    const guestGiven = colon < 0 ? host : guestText;
    if (!posix.isAbsolute(guestGiven)) {
      throw new UsageError(`--${flag} "${value}": the folder in the VM must be an absolute path.`, [example]);
    }
    if (/[\0\n]/.test(guestGiven)) {
      throw new UsageError(`--${flag} "${value}": the folder in the VM contains a newline or NUL.`);
    }
    const guest = posix.normalize(guestGiven).replace(/(.)\/+$/, '$1');
    if (RESERVED_GUEST_EXACT.includes(guest) || RESERVED_GUEST.some((folder) => isUnder(guest, folder))) {
      throw new UsageError(
        `--${flag} "${value}": ${guest} is a system folder of the VM; mount the share somewhere else.`,
        [`For example --${flag} ${shellQuote(`${hostText}:/work`)}.`],
      );
    }
    const clash = shares.find((other) => isUnder(guest, other.Guest) || isUnder(other.Guest, guest));
    if (clash) {
      const what = clash.Guest === guest ? 'is given twice' : `overlaps ${clash.Guest}`;
      throw new UsageError(`--${flag}: the folder ${guest} in the VM ${what}.`, [
        'Give each share its own folder in the VM, none inside another.',
      ]);
    }
    shares.push({ Host: host, Guest: guest });
  }
  return shares;
}

function directoryExists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
