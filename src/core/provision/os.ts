/**
 * Which Linux distribution a host runs, from its /etc/os-release, and which family of install and service
 * commands moor uses for it. Pure: the caller reads the file over SSH.
 */
import { ExitCode, MoorError } from '../errors.js';

export interface OsRelease {
  /** ID, lowercased ("debian", "ubuntu", "rocky", "amzn"…); "" when the file has none. */
  id: string;
  /** ID_LIKE, split on spaces and lowercased: the distributions this one derives from. */
  idLike: string[];
  /** VERSION_ID as written ("12", "24.04", "2023"); "" when absent (Arch, Tumbleweed). */
  versionId: string;
  /** PRETTY_NAME, for messages; "" when absent. */
  prettyName: string;
}

/**
 * A family shares a package manager and the name of its Docker package:
 * - debian: apt (Debian, Ubuntu, Raspbian, Mint, Pop!_OS…)
 * - rhel: dnf, or yum where there is no dnf (RHEL, CentOS, Rocky, AlmaLinux, Oracle Linux, Fedora)
 * - amazon: Amazon Linux (AL2 yum + amazon-linux-extras, AL2023 dnf)
 * - suse: zypper (SLES, openSUSE)
 * - arch: pacman (Arch, Manjaro)
 * - alpine: apk, with OpenRC instead of systemd
 */
export type Family = 'debian' | 'rhel' | 'amazon' | 'suse' | 'arch' | 'alpine';

export const FAMILIES: readonly Family[] = ['debian', 'rhel', 'amazon', 'suse', 'arch', 'alpine'];

/** os-release IDs that moor knows, per family. IDs starting with "opensuse" are SUSE too. */
const FAMILY_IDS: Record<Family, readonly string[]> = {
  debian: ['debian', 'ubuntu', 'raspbian', 'linuxmint', 'pop', 'elementary', 'zorin', 'neon', 'kali'],
  rhel: ['rhel', 'centos', 'rocky', 'almalinux', 'ol', 'fedora'],
  amazon: ['amzn'],
  suse: ['sles', 'sled', 'opensuse', 'opensuse-leap', 'opensuse-tumbleweed', 'suse'],
  arch: ['arch', 'manjaro', 'endeavouros'],
  alpine: ['alpine'],
};

/** Parses os-release(5): KEY=value lines, values optionally quoted with " or ' and backslash escapes. */
export function parseOsRelease(text: string): OsRelease {
  const values = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match === null) continue;
    values.set(match[1] as string, unquote(match[2] as string));
  }
  const get = (key: string): string => values.get(key) ?? '';
  return {
    id: get('ID').toLowerCase(),
    idLike: get('ID_LIKE')
      .toLowerCase()
      .split(/\s+/)
      .filter((word) => word !== ''),
    versionId: get('VERSION_ID'),
    prettyName: get('PRETTY_NAME'),
  };
}

function unquote(value: string): string {
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote)) {
    const inner = value.slice(1, -1);
    // Inside double quotes, os-release allows the shell escapes \" \\ \$ \`.
    return quote === '"' ? inner.replace(/\\(["\\$`])/g, '$1') : inner;
  }
  return value;
}

function familyOfId(id: string): Family | undefined {
  if (id.startsWith('opensuse')) return 'suse';
  return FAMILIES.find((family) => FAMILY_IDS[family].includes(id));
}

/** The family of `os`, or undefined when neither its ID nor any ID_LIKE entry is known. */
export function familyOf(os: OsRelease): Family | undefined {
  const byId = familyOfId(os.id);
  if (byId !== undefined) return byId;
  for (const like of os.idLike) {
    const family = familyOfId(like);
    if (family !== undefined) return family;
  }
  return undefined;
}

/** Like familyOf, but an unknown distribution is an UnsupportedOsError. */
export function detectFamily(os: OsRelease): Family {
  const family = familyOf(os);
  if (family === undefined) throw new UnsupportedOsError(os);
  return family;
}

/** Every os-release ID moor recognises, for messages. */
export function supportedOsIds(): string[] {
  return [...FAMILIES.flatMap((family) => FAMILY_IDS[family]), 'opensuse-*'];
}

export class UnsupportedOsError extends MoorError {
  constructor(os: OsRelease) {
    const name = os.prettyName !== '' ? os.prettyName : os.id !== '' ? os.id : 'an unidentified system';
    const ids = `ID=${os.id === '' ? '(none)' : os.id}${os.idLike.length > 0 ? `, ID_LIKE=${os.idLike.join(' ')}` : ''}`;
    super(
      `moor cannot install Docker on ${name} (${ids}): it installs distribution packages only on ${supportedOsIds().join(', ')} ` +
        '(matched on ID, then ID_LIKE in /etc/os-release).',
      {
        code: 'UNSUPPORTED_OS',
        exitCode: ExitCode.failure,
        suggestions: [
          'Install with a get.docker.com-style script instead: --engine-install-url URL (for example https://get.docker.com).',
          'Or install Docker on the host yourself and use --engine-install-method none.',
        ],
      },
    );
  }
}
