/**
 * The engine's configuration, from a machine's EngineOptions: what goes into /etc/docker/daemon.json and
 * what has to stay a dockerd flag. Pure.
 *
 * Options go to daemon.json where dockerd knows them as JSON keys (the recommended place), so that the
 * service unit carries only the listen addresses and environment. dockerd refuses to start when one option
 * is set both as a flag and in the file, so every option lands in exactly one of the two. "hosts" is never
 * written to daemon.json: the listen addresses are -H flags of the service (systemd's fd:// socket).
 */
import { type EngineOptions, transportOf, validateEngineOptions } from '../machine.js';
import { UsageError } from '../errors.js';

/** Where the caller uploads the engine's certificates; the daemon configuration only refers to them. */
export const REMOTE_CERT_PATHS = {
  ca: '/etc/docker/ca.pem',
  cert: '/etc/docker/server.pem',
  key: '/etc/docker/server-key.pem',
} as const;

type OptionKind = 'string' | 'bool' | 'int' | 'list' | 'map';

/** dockerd flags that have a daemon.json key: flag name -> [JSON key, kind]. */
const JSON_OPTIONS: Record<string, readonly [string, OptionKind]> = {
  // Strings.
  bip: ['bip', 'string'],
  bridge: ['bridge', 'string'],
  'cgroup-parent': ['cgroup-parent', 'string'],
  containerd: ['containerd', 'string'],
  'data-root': ['data-root', 'string'],
  'default-cgroupns-mode': ['default-cgroupns-mode', 'string'],
  'default-gateway': ['default-gateway', 'string'],
  'default-gateway-v6': ['default-gateway-v6', 'string'],
  'default-ipc-mode': ['default-ipc-mode', 'string'],
  'default-runtime': ['default-runtime', 'string'],
  'default-shm-size': ['default-shm-size', 'string'],
  'exec-root': ['exec-root', 'string'],
  'fixed-cidr': ['fixed-cidr', 'string'],
  'fixed-cidr-v6': ['fixed-cidr-v6', 'string'],
  group: ['group', 'string'],
  'init-path': ['init-path', 'string'],
  ip: ['ip', 'string'],
  'log-driver': ['log-driver', 'string'],
  'log-format': ['log-format', 'string'],
  'log-level': ['log-level', 'string'],
  pidfile: ['pidfile', 'string'],
  'seccomp-profile': ['seccomp-profile', 'string'],
  'storage-driver': ['storage-driver', 'string'],
  'userland-proxy-path': ['userland-proxy-path', 'string'],
  'userns-remap': ['userns-remap', 'string'],
  // Booleans: `--engine-opt debug` alone means true.
  debug: ['debug', 'bool'],
  experimental: ['experimental', 'bool'],
  icc: ['icc', 'bool'],
  init: ['init', 'bool'],
  'ip-forward': ['ip-forward', 'bool'],
  'ip-masq': ['ip-masq', 'bool'],
  iptables: ['iptables', 'bool'],
  ip6tables: ['ip6tables', 'bool'],
  ipv6: ['ipv6', 'bool'],
  'live-restore': ['live-restore', 'bool'],
  'no-new-privileges': ['no-new-privileges', 'bool'],
  'raw-logs': ['raw-logs', 'bool'],
  'selinux-enabled': ['selinux-enabled', 'bool'],
  'userland-proxy': ['userland-proxy', 'bool'],
  // Integers.
  'max-concurrent-downloads': ['max-concurrent-downloads', 'int'],
  'max-concurrent-uploads': ['max-concurrent-uploads', 'int'],
  'max-download-attempts': ['max-download-attempts', 'int'],
  mtu: ['mtu', 'int'],
  'shutdown-timeout': ['shutdown-timeout', 'int'],
  // Repeatable flags: JSON lists.
  'authorization-plugin': ['authorization-plugins', 'list'],
  dns: ['dns', 'list'],
  'dns-opt': ['dns-opts', 'list'],
  'dns-search': ['dns-search', 'list'],
  'exec-opt': ['exec-opts', 'list'],
  'insecure-registry': ['insecure-registries', 'list'],
  label: ['labels', 'list'],
  'registry-mirror': ['registry-mirrors', 'list'],
  'storage-opt': ['storage-opts', 'list'],
  // key=value flags: JSON objects.
  'log-opt': ['log-opts', 'map'],
};

/** Flags moor sets itself: a user value would fight the listen addresses, the TLS setup or daemon.json. */
const RESERVED_FLAGS = new Set([
  'H',
  'host',
  'tls',
  'tlsverify',
  'tlscacert',
  'tlscert',
  'tlskey',
  'config-file',
  'validate',
]);

const GO_BOOLEANS: Record<string, boolean> = {
  '1': true,
  t: true,
  T: true,
  true: true,
  TRUE: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  false: false,
  FALSE: false,
  False: false,
};

export type DaemonJson = Record<string, string | number | boolean | string[] | Record<string, string>>;

export interface EngineConfig {
  /** The daemon.json object (keys in a stable order: moor's own first, then --engine-opt ones as given). */
  daemonJson: DaemonJson;
  /** --engine-opt options dockerd has no JSON key for, as single `--name[=value]` arguments. */
  extraFlags: string[];
  /** --engine-env, as [name, value] pairs. */
  env: [string, string][];
}

/**
 * Maps EngineOptions (already checked by validateEngineOptions) to daemon.json, extra flags and environment.
 * Throws UsageError on options that cannot be applied: reserved flags, a scalar given twice, bad booleans.
 */
export function buildEngineConfig(engine: EngineOptions, driverName: string): EngineConfig {
  const json: DaemonJson = {};
  const extraFlags: string[] = [];
  const lists = new Map<string, string[]>();
  const addToList = (key: string, value: string): void => {
    const list = lists.get(key) ?? [];
    if (!lists.has(key)) {
      lists.set(key, list);
      json[key] = list;
    }
    list.push(value);
  };

  const labels: string[] = [];
  lists.set('labels', labels);
  json['labels'] = labels;
  for (const label of engine.Labels) labels.push(label);
  for (const registry of engine.InsecureRegistry) addToList('insecure-registries', registry);
  for (const mirror of engine.RegistryMirror) addToList('registry-mirrors', mirror);
  if (engine.StorageDriver !== '') json['storage-driver'] = engine.StorageDriver;

  for (const opt of engine.ArbitraryFlags) {
    const eq = opt.indexOf('=');
    const name = eq === -1 ? opt : opt.slice(0, eq);
    const value = eq === -1 ? undefined : opt.slice(eq + 1);
    if (RESERVED_FLAGS.has(name)) {
      throw new UsageError(
        `--engine-opt ${name} cannot be set: moor manages the engine's listen addresses, TLS settings and daemon.json itself.`,
      );
    }
    const known = JSON_OPTIONS[name];
    if (known === undefined) {
      extraFlags.push(value === undefined ? `--${name}` : `--${name}=${value}`);
      continue;
    }
    const [key, kind] = known;
    if (kind === 'bool') {
      const parsed = value === undefined ? true : GO_BOOLEANS[value];
      if (parsed === undefined) throw new UsageError(`--engine-opt ${opt}: ${name} takes true or false.`);
      setScalar(json, key, parsed, opt);
      continue;
    }
    if (value === undefined) throw new UsageError(`--engine-opt ${name} needs a value: --engine-opt ${name}=VALUE.`);
    if (kind === 'string') setScalar(json, key, value, opt);
    else if (kind === 'int') {
      if (!/^-?[0-9]+$/.test(value)) throw new UsageError(`--engine-opt ${opt}: ${name} takes a whole number.`);
      setScalar(json, key, Number(value), opt);
    } else if (kind === 'list') addToList(key, value);
    else {
      const sep = value.indexOf('=');
      if (sep <= 0) throw new UsageError(`--engine-opt ${opt}: ${name} takes key=value (${name}=max-size=10m).`);
      // A prototype-less object, so that a key like "__proto__" is stored like any other.
      const map = (json[key] ??= Object.create(null) as Record<string, string>) as Record<string, string>;
      map[value.slice(0, sep)] = value.slice(sep + 1);
    }
  }

  // Like Docker Machine: provider=<driver>, unless the user set a provider label.
  if (!labels.some((label) => label.startsWith('provider='))) labels.push(`provider=${driverName}`);
  if (transportOf(engine) === 'tls') {
    json['tls'] = true;
    json['tlsverify'] = true;
    json['tlscacert'] = REMOTE_CERT_PATHS.ca;
    json['tlscert'] = REMOTE_CERT_PATHS.cert;
    json['tlskey'] = REMOTE_CERT_PATHS.key;
  }

  const env = engine.Env.map((variable): [string, string] => {
    const eq = variable.indexOf('=');
    return [variable.slice(0, eq), variable.slice(eq + 1)];
  });
  return { daemonJson: json, extraFlags, env };
}

/**
 * Every check provisioning makes of the engine options, without rendering anything: the options' syntax
 * (validateEngineOptions), no control characters, and buildEngineConfig itself (reserved flags, values
 * dockerd would refuse, a setting given twice). create runs it before anything exists, so that a value
 * provisioning would reject fails there; the provisioning plan runs it again.
 */
export function validateEngineConfig(engine: EngineOptions, driverName: string): EngineConfig {
  const problem = validateEngineOptions(engine);
  if (problem !== undefined) throw new UsageError(`${problem}.`);
  const lists: [string, string[]][] = [
    ['--engine-label', engine.Labels],
    ['--engine-opt', engine.ArbitraryFlags],
    ['--engine-env', engine.Env],
    ['--engine-insecure-registry', engine.InsecureRegistry],
    ['--engine-registry-mirror', engine.RegistryMirror],
  ];
  for (const [flag, values] of lists) for (const value of values) checkText(flag, value);
  checkText('--engine-storage-driver', engine.StorageDriver);
  return buildEngineConfig(engine, driverName);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Refuses a value with a line break or another control character (it would reach a script or a unit file). */
export function checkText(what: string, value: string): void {
  if (CONTROL.test(value)) {
    throw new UsageError(`${what} ${JSON.stringify(value)} contains a line break or another control character.`);
  }
}

function setScalar(json: DaemonJson, key: string, value: string | number | boolean, opt: string): void {
  if (key in json) {
    const hint = key === 'storage-driver' ? ' (it is also set by --engine-storage-driver)' : '';
    throw new UsageError(`--engine-opt ${opt}: ${key} is set more than once${hint}.`);
  }
  json[key] = value;
}

/** Quotes one argument of a systemd ExecStart= line (systemd.syntax(7), systemd.service(5) "Command lines"). */
export function systemdExecArg(arg: string): string {
  if (/^[A-Za-z0-9_+=:,./@-]+$/.test(arg)) return arg;
  return `"${escapeSystemd(arg).replace(/\$/g, '$$$$')}"`;
}

/** Quotes `NAME=value` for an Environment= line: no variable expansion there, but specifiers and escapes. */
export function systemdEnvAssignment(name: string, value: string): string {
  return `"${escapeSystemd(`${name}=${value}`)}"`;
}

function escapeSystemd(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%');
}
