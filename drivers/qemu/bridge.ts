/**
 * The bridge network's set-up, decided and checked before anything of a machine is created, and again at
 * each boot (a machine created as root and started by a user needs the helper then):
 *   - root on Linux: QEMU opens a tap of moor's naming itself (`-netdev tap,ifname=...`, not persistent, so it
 *     goes away with the QEMU process), and moor puts it on the bridge with `ip link` right after QEMU starts;
 *   - anyone else on Linux: qemu-bridge-helper makes the tap, as QEMU's `-netdev bridge` does; it must be
 *     setuid root (or have cap_net_admin) and allow the bridge in its bridge.conf;
 *   - macOS: not supported (QEMU's vmnet-bridged needs root or Apple's entitlement); the user network works.
 * The host is behind an interface so that every branch is unit-tested without root.
 */
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { ExitCode, MoorError, notYet, waitFor } from '../api.js';

/** How QEMU gets its NIC onto the bridge. */
export type BridgeMethod =
  /** Root: QEMU opens the tap `tap`; moor attaches it to the bridge with `ip` after QEMU starts. */
  | { kind: 'tap'; bridge: string; ip: string }
  /** Not root: qemu-bridge-helper (setuid root, bridge.conf allows the bridge) makes the tap. */
  | { kind: 'helper'; bridge: string; helper: string };

export interface BridgeHost {
  platform: NodeJS.Platform;
  isRoot: boolean;
  /** Whether a network interface named `name` exists and is a bridge. */
  bridgeKind(name: string): Promise<'bridge' | 'other' | 'missing'>;
  /** Whether the tun/tap device exists. */
  tunDevice(): Promise<boolean>;
  /** The `ip` program (iproute2), or undefined. */
  ipProgram(): Promise<string | undefined>;
  /** The qemu-bridge-helper next to the QEMU binary or where distributions put it, or undefined. */
  helper(): Promise<string | undefined>;
  /** Whether the helper may make taps: setuid root, or file capability cap_net_admin. */
  helperPrivileged(helper: string): Promise<boolean>;
  /** A file's text; undefined when it does not exist; 'unreadable' when it may not be read. */
  readText(path: string): Promise<string | undefined | 'unreadable'>;
}

/** Where QEMU looks for the helper's ACL (QEMU's sysconfdir; Homebrew's has no helper). */
export const BRIDGE_CONF = '/etc/qemu/bridge.conf';

/** Where distributions install qemu-bridge-helper, after the QEMU binary's own prefix. */
export function helperCandidates(binary: string): string[] {
  const prefix = join(dirname(binary), '..');
  return [
    join(prefix, 'libexec', 'qemu-bridge-helper'),
    join(prefix, 'lib', 'qemu', 'qemu-bridge-helper'),
    '/usr/lib/qemu/qemu-bridge-helper', // Debian, Ubuntu, Arch
    '/usr/libexec/qemu-bridge-helper', // Fedora, RHEL
    '/usr/lib/qemu-bridge-helper',
  ];
}

/** The tap of a machine: `moor` and the last three bytes of its MAC (unique per machine, at most 15 characters). */
export function tapName(mac: string): string {
  return `moor${mac
    .toLowerCase()
    .replace(/[^0-9a-f]/g, '')
    .slice(-6)}`;
}

type Acl = { rule: 'allow' | 'deny'; name: string };

/** bridge.conf's rules with its `include`s (as qemu-bridge-helper reads them), or 'unreadable'. */
async function readAcl(path: string, host: BridgeHost, depth = 0): Promise<Acl[] | 'unreadable'> {
  const text = await host.readText(path);
  if (text === 'unreadable') return 'unreadable';
  if (text === undefined || depth > 8) return [];
  const rules: Acl[] = [];
  for (const raw of text.split('\n')) {
    const [keyword, value] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (!keyword || !value) continue;
    if (keyword === 'allow' || keyword === 'deny') rules.push({ rule: keyword, name: value });
    else if (keyword === 'include') {
      const included = await readAcl(isAbsolute(value) ? value : join(dirname(path), value), host, depth + 1);
      if (included === 'unreadable') return included;
      rules.push(...included);
    }
  }
  return rules;
}

/** qemu-bridge-helper's decision: a matching deny wins over any allow, whatever the order. */
export function aclAllows(rules: Acl[], bridge: string): boolean {
  const matches = (rule: Acl) => rule.name === 'all' || rule.name === bridge;
  if (rules.some((rule) => rule.rule === 'deny' && matches(rule))) return false;
  return rules.some((rule) => rule.rule === 'allow' && matches(rule));
}

function bridgeError(code: string, message: string, suggestions: string[]): MoorError {
  return new MoorError(message, { code, exitCode: ExitCode.preCreateCheck, suggestions });
}

/** The way this host puts a VM on `bridge`, or the error saying what to set up (nothing is created here). */
export async function planBridge(bridge: string, host: BridgeHost): Promise<BridgeMethod> {
  const userNetwork = 'Or use the user network (--qemu-network user, the default), which needs no set-up.';
  if (host.platform !== 'linux') {
    throw bridgeError(
      'QEMU_BRIDGE_UNSUPPORTED',
      `--qemu-network bridge=${bridge} works on Linux only: on ${host.platform === 'darwin' ? 'macOS' : host.platform}, QEMU's bridged networking (vmnet) needs root or Apple's entitlement, which moor does not set up.`,
      [userNetwork],
    );
  }
  const kind = await host.bridgeKind(bridge);
  if (kind !== 'bridge') {
    throw bridgeError(
      'QEMU_NO_BRIDGE',
      kind === 'missing'
        ? `There is no network interface "${bridge}" for --qemu-network bridge=${bridge}.`
        : `"${bridge}" is a network interface but not a bridge.`,
      [
        `Make the bridge first (as root): ip link add ${bridge} type bridge && ip addr add ADDRESS/PREFIX dev ${bridge} && ip link set ${bridge} up`,
        'Or name an existing one: ip -br link show type bridge',
        userNetwork,
      ],
    );
  }
  if (!(await host.tunDevice())) {
    throw bridgeError('QEMU_BRIDGE_DENIED', 'There is no /dev/net/tun: QEMU cannot make the tap for the bridge.', [
      'Load the tun module (as root): modprobe tun',
      userNetwork,
    ]);
  }
  if (host.isRoot) {
    const ip = await host.ipProgram();
    if (!ip) {
      throw bridgeError(
        'QEMU_BRIDGE_DENIED',
        'The `ip` program (iproute2) is missing: moor uses it to put the tap on the bridge.',
        ['Debian/Ubuntu: apt-get install iproute2; Fedora: dnf install iproute; Arch: pacman -S iproute2'],
      );
    }
    return { kind: 'tap', bridge, ip };
  }
  const helper = await host.helper();
  if (!helper) {
    throw bridgeError(
      'QEMU_BRIDGE_DENIED',
      `qemu-bridge-helper was not found: without root, QEMU needs it to put a VM on bridge ${bridge}.`,
      ['Install it with QEMU (Debian/Ubuntu: qemu-system-common), or run moor as root.', userNetwork],
    );
  }
  if (!(await host.helperPrivileged(helper))) {
    throw bridgeError(
      'QEMU_BRIDGE_DENIED',
      `${helper} is not setuid root: without root, it cannot make the tap for bridge ${bridge}.`,
      [
        `Let it (as root): chmod u+s ${helper}`,
        `And allow the bridge (as root): mkdir -p /etc/qemu && echo "allow ${bridge}" >> ${BRIDGE_CONF}`,
        'Or run moor as root (it then makes the tap itself).',
        userNetwork,
      ],
    );
  }
  const rules = await readAcl(BRIDGE_CONF, host);
  if (rules !== 'unreadable' && !aclAllows(rules, bridge)) {
    throw bridgeError(
      'QEMU_BRIDGE_DENIED',
      `qemu-bridge-helper does not allow bridge ${bridge}: ${BRIDGE_CONF} needs the line "allow ${bridge}".`,
      [
        `Add it (as root): mkdir -p /etc/qemu && echo "allow ${bridge}" >> ${BRIDGE_CONF}`,
        'Or run moor as root (it then makes the tap itself).',
        userNetwork,
      ],
    );
  }
  return { kind: 'helper', bridge, helper };
}

const fileKind = (path: string) =>
  stat(path).then(
    (info) => info,
    () => undefined,
  );

/** This machine, for planBridge. */
export function realBridgeHost(binary: string, findProgram: (name: string) => Promise<string | undefined>): BridgeHost {
  return {
    platform: process.platform,
    isRoot: process.geteuid?.() === 0,
    async bridgeKind(name) {
      if (!(await fileKind(`/sys/class/net/${name}`))) return 'missing';
      return (await fileKind(`/sys/class/net/${name}/bridge`))?.isDirectory() ? 'bridge' : 'other';
    },
    tunDevice: async () => (await fileKind('/dev/net/tun')) !== undefined,
    async ipProgram() {
      for (const path of ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']) {
        if ((await fileKind(path))?.isFile()) return path;
      }
      return findProgram('ip');
    },
    async helper() {
      for (const path of helperCandidates(binary)) if ((await fileKind(path))?.isFile()) return path;
      return undefined;
    },
    async helperPrivileged(helper) {
      const info = await fileKind(helper);
      if (info && info.uid === 0 && (info.mode & 0o4000) !== 0) return true;
      const getcap = (await fileKind('/usr/sbin/getcap')) ? '/usr/sbin/getcap' : await findProgram('getcap');
      if (!getcap) return false;
      return new Promise((resolve) => {
        execFile(getcap, [helper], { timeout: 10_000 }, (error, stdout) =>
          resolve(!error && /cap_net_admin/.test(stdout)),
        );
      });
    },
    async readText(path) {
      try {
        return await readFile(path, 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        return code === 'EACCES' || code === 'EPERM' ? 'unreadable' : undefined;
      }
    },
  };
}

/** Puts QEMU's tap on the bridge and brings it up (root); the error names what failed. */
export function attachTap(method: Extract<BridgeMethod, { kind: 'tap' }>, tap: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      method.ip,
      ['link', 'set', 'dev', tap, 'master', method.bridge, 'up'],
      { timeout: 30_000 },
      (error, _stdout, stderr) => {
        if (!error) return resolve();
        reject(
          new MoorError(
            `The tap ${tap} could not be put on bridge ${method.bridge}: ${stderr.trim() || error.message}.`,
            { code: 'QEMU_START_FAILED' },
          ),
        );
      },
    );
  });
}

/**
 * Waits until QEMU's tap is gone. The kernel removes a tap that is not persistent when its last file is closed,
 * which a QEMU killed with SIGKILL does after its process already looks gone (its command line empties first);
 * so that rm and stop leave no tap behind. False when it is still there after `timeoutMs`.
 */
export function tapGone(tap: string, timeoutMs = 30_000): Promise<boolean> {
  return waitFor(async () => ((await fileKind(`/sys/class/net/${tap}`)) ? notYet('the tap is still there') : true), {
    what: `tap ${tap} to go away`,
    timeoutMs,
    maxDelayMs: 1_000,
    jitter: false,
    onTimeout: () => false,
  });
}
