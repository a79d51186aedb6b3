/**
 * The provisioning plan of one machine: the shell scripts that install and configure its Docker engine,
 * and the files they write. Pure: validates the inputs and renders; running the steps over SSH (after
 * uploading the certificates to /etc/docker) is the caller's job.
 *
 * Each script prints progress lines, and as its last line `moor: changed=1` or `moor: changed=0`.
 */
import { UsageError } from '../errors.js';
import { assertValidNewName, transportOf, type EngineOptions } from '../machine.js';
import { shellQuote, sudoPrefix } from '../ssh/quote.js';
import {
  buildEngineConfig,
  checkText,
  systemdEnvAssignment,
  systemdExecArg,
  validateEngineConfig,
} from './daemon-config.js';
import { FAMILIES, UnsupportedOsError, type Family, type OsRelease } from './os.js';
import { renderScript } from './render.js';

export type InstallMethod = 'packages' | 'script' | 'none';
export const INSTALL_METHODS: readonly InstallMethod[] = ['packages', 'script', 'none'];

export interface ProvisionInput {
  machineName: string;
  /** From detectFamily/familyOf; null for a distribution moor does not know (then only script or none). */
  family: Family | null;
  os: OsRelease;
  sshUser: string;
  engine: EngineOptions;
  /** The TCP port dockerd listens on with TLS (2376). */
  enginePort: number;
  installMethod: InstallMethod;
  /** --engine-version: a package version prefix (apt, dnf, yum) or the install script's VERSION. */
  engineVersion?: string;
  driverName: string;
  /** Prefix for every path the scripts write; '' (the default) on real hosts. The tests use a sandbox. */
  fsRoot?: string;
}

export interface ProvisionStep {
  name: 'install-docker' | 'configure-docker';
  script: string;
}

export interface ProvisionPlan {
  steps: ProvisionStep[];
  /** /etc/docker/daemon.json (without the final newline the script adds). */
  daemonJson: string;
  /**
   * /etc/systemd/system/docker.service.d/10-moor.conf, with two placeholders the configure script fills in
   * on the host: @DOCKERD@ (dockerd's path: /usr/sbin/dockerd for docker.io, /usr/bin/dockerd for
   * docker-ce) and @LOCAL_HOST@ (fd:// with a docker.socket unit, else unix:///var/run/docker.sock).
   */
  dropIn: string;
  /** /etc/conf.d/docker, used instead of the drop-in on OpenRC hosts (Alpine). */
  openrcConf: string;
}

export const DROP_IN_PATH = '/etc/systemd/system/docker.service.d/10-moor.conf';
export const OPENRC_CONF_PATH = '/etc/conf.d/docker';

const VERSION_PATTERN = /^[0-9A-Za-z.~+:-]+$/;
/** Package managers that can install an older version: apt (docker.io=V*), dnf/yum (docker-V*). */
const VERSIONED_FAMILIES: readonly Family[] = ['debian', 'rhel', 'amazon'];
const EL_IDS = ['rhel', 'centos', 'rocky', 'almalinux', 'ol'];
const DOCKER_REPO = 'https://download.docker.com/linux';

export function buildProvisionPlan(input: ProvisionInput): ProvisionPlan {
  validateInput(input);
  const { engine } = input;
  const files = engineFiles(input);
  const common = { sudo: sudoPrefix(input.sshUser).trimEnd(), root: input.fsRoot ?? '' };
  const install = renderScript('install-docker.sh', {
    ...common,
    method: input.installMethod,
    family: input.family ?? 'unknown',
    version: input.engineVersion ?? '',
    installUrl: input.installMethod === 'script' ? engine.InstallURL : '',
    dockerRepoUrl: input.family === 'rhel' ? dockerRepoUrl(input.os) : '',
  });
  const configure = renderScript('configure-docker.sh', {
    ...common,
    firstBoot: false,
    hostname: input.machineName,
    ...files,
  });
  return {
    steps: [
      { name: 'install-docker', script: install },
      { name: 'configure-docker', script: configure },
    ],
    ...files,
  };
}

export type FirstBootInput = Pick<ProvisionInput, 'machineName' | 'engine' | 'enginePort' | 'driverName' | 'fsRoot'>;

/**
 * configure-docker.sh as a new VM runs it once at its first boot, as root, before its engine first starts
 * (a VM driver puts it in the cloud-init seed): the same files as provisioning writes, so that dockerd
 * starts with them and provisioning finds nothing to change and restarts nothing. It starts nothing, and
 * leaves an engine that has started already to provisioning.
 */
export function buildFirstBootScript(input: FirstBootInput): string {
  validateEngineInput(input);
  return renderScript('configure-docker.sh', {
    sudo: '',
    root: input.fsRoot ?? '',
    firstBoot: true,
    hostname: input.machineName,
    ...engineFiles(input),
  });
}

/** daemon.json, the systemd drop-in and OpenRC's conf.d file for the engine's options. */
function engineFiles(input: FirstBootInput): Pick<ProvisionPlan, 'daemonJson' | 'dropIn' | 'openrcConf'> {
  const { engine, enginePort } = input;
  const config = buildEngineConfig(engine, input.driverName);
  const daemonJson = JSON.stringify(config.daemonJson, null, 2);
  // With the ssh transport the engine listens on its socket only: no TCP port at all.
  const tcpArgs = transportOf(engine) === 'tls' ? ['-H', `tcp://0.0.0.0:${enginePort}`] : [];

  const header = ['# Written by moor; "moor provision" rewrites it. Engine options are in /etc/docker/daemon.json.'];
  const execArgs = ['@DOCKERD@', '-H', '@LOCAL_HOST@', ...tcpArgs, ...config.extraFlags.map(systemdExecArg)];
  const dropIn = [
    ...header,
    '[Service]',
    'ExecStart=',
    `ExecStart=${execArgs.join(' ')}`,
    ...config.env.map(([name, value]) => `Environment=${systemdEnvAssignment(name, value)}`),
  ].join('\n');
  // OpenRC's start-stop-daemon evals DOCKER_OPTS: one shell word per argument.
  const dockerOpts = ['-H', 'unix:///var/run/docker.sock', ...tcpArgs, ...config.extraFlags].map(shellQuote).join(' ');
  const openrcConf = [
    ...header,
    `DOCKER_OPTS=${shellQuote(dockerOpts)}`,
    ...config.env.map(([name, value]) => `export ${name}=${shellQuote(value)}`),
  ].join('\n');
  return { daemonJson, dropIn, openrcConf };
}

export interface InstallOptions {
  installMethod: InstallMethod;
  installUrl: string;
  engineVersion?: string;
  /** Known once the host's OS is: the family-dependent checks are skipped when it is not given. */
  family?: Family | null;
  os?: OsRelease;
}

/**
 * The install method, URL and version agree with each other (and with the OS family, when known).
 * Shared by provisioning, upgrade, and create (which checks what it can before anything is written).
 */
export function validateInstallOptions(options: InstallOptions): void {
  const { installMethod, family } = options;
  if (!INSTALL_METHODS.includes(installMethod)) {
    throw new UsageError(
      `Unknown --engine-install-method "${String(installMethod)}": use ${INSTALL_METHODS.join(', ')}.`,
    );
  }
  const url = options.installUrl;
  if (installMethod === 'script') {
    if (url === '') {
      throw new UsageError(
        '--engine-install-method script needs --engine-install-url URL (for example https://get.docker.com).',
      );
    }
    checkText('--engine-install-url', url);
    if (!/^https?:\/\/\S+$/.test(url) || !URL.canParse(url)) {
      throw new UsageError(`--engine-install-url "${url}" must be an http:// or https:// URL.`);
    }
  } else if (url !== '') {
    throw new UsageError(
      `--engine-install-url is used only by --engine-install-method script (the method is ${installMethod}).`,
    );
  }

  const version = options.engineVersion;
  if (version !== undefined && version !== '') {
    if (!VERSION_PATTERN.test(version)) {
      throw new UsageError(
        `--engine-version "${version}" may contain only letters, digits and . ~ + : - (for example 24.0.7).`,
      );
    }
    if (installMethod === 'none')
      throw new UsageError('--engine-version has no effect with --engine-install-method none.');
    if (installMethod === 'packages' && family && !VERSIONED_FAMILIES.includes(family)) {
      throw new UsageError(
        `--engine-version is not supported with distribution packages on ${options.os?.id ?? family} (its repositories carry one version).`,
        ['Leave out --engine-version, or use --engine-install-url with an install script that takes VERSION.'],
      );
    }
  }
}

/** The host checks shared by provisioning and upgrade: method and family, SSH user, sandbox root. */
export function validateHostInput(input: {
  installMethod: InstallMethod;
  family: Family | null;
  os: OsRelease;
  sshUser: string;
  fsRoot?: string;
}): void {
  const { installMethod, family } = input;
  if (family !== null && !FAMILIES.includes(family)) throw new UsageError(`Unknown OS family "${String(family)}".`);
  if (family === null && installMethod === 'packages') throw new UnsupportedOsError(input.os);
  if (input.sshUser === '') throw new UsageError('The SSH user is empty.');
  checkText('SSH user', input.sshUser);
  checkRoot(input.fsRoot);
}

/** RHEL and its rebuilds run docker-ce from Docker's repository; Fedora its own moby-engine. */
export function isEnterpriseLinux(os: OsRelease): boolean {
  return EL_IDS.includes(os.id) || os.idLike.some((like) => like === 'rhel' || like === 'centos');
}

/**
 * Fedora installs its own moby-engine (''); the Enterprise Linux rebuilds have no Docker engine, so
 * docker-ce comes from Docker's repository (RHEL has its own; CentOS's serves Rocky, Alma and Oracle).
 */
function dockerRepoUrl(os: OsRelease): string {
  if (!isEnterpriseLinux(os)) return '';
  return `${DOCKER_REPO}/${os.id === 'rhel' ? 'rhel' : 'centos'}/docker-ce.repo`;
}

function validateInput(input: ProvisionInput): void {
  const { engine, installMethod, family } = input;
  validateHostInput(input);
  validateEngineInput(input);

  validateInstallOptions({
    installMethod,
    installUrl: engine.InstallURL,
    ...(input.engineVersion !== undefined ? { engineVersion: input.engineVersion } : {}),
    family,
    os: input.os,
  });
}

/** The sandbox root of the tests: absolute, or empty on a real host. */
function checkRoot(fsRoot: string | undefined): void {
  if (fsRoot === undefined || fsRoot === '') return;
  checkText('Root folder', fsRoot);
  if (!fsRoot.startsWith('/')) throw new UsageError(`Root folder "${fsRoot}" is not absolute.`);
}

/** The name, the driver, the port and the engine options: what the engine's files are made of. */
function validateEngineInput(input: FirstBootInput): void {
  const { engine } = input;
  // The name becomes the host's hostname: the one rule of a new machine's name (63 characters, a DNS label).
  assertValidNewName(input.machineName);
  checkRoot(input.fsRoot);
  if (input.driverName === '') throw new UsageError('The driver name is empty.');
  checkText('Driver name', input.driverName);
  if (!Number.isInteger(input.enginePort) || input.enginePort < 1 || input.enginePort > 65535) {
    throw new UsageError(`Engine port ${input.enginePort} is not a port number (1-65535).`);
  }
  validateEngineConfig(engine, input.driverName);
  if (!engine.TlsVerify) {
    throw new UsageError(
      'The engine would listen on TCP without client certificates (TlsVerify is false): moor only exposes it with --tlsverify.',
    );
  }
}
