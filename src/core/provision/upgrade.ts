/**
 * The script behind `moor upgrade`: upgrades a machine's Docker engine with the method it was installed
 * with (Docker Machine's upgrade ignored the install URL and could not pin a version). Pure: validates the
 * inputs and renders templates/upgrade-docker.sh.hbs; running it over SSH is the caller's job.
 *
 * The script prints the engine version (`dockerd --version`) before and after, restarts the engine only
 * when it changed, and prints as its last line `moor: changed=1` (the version changed) or `moor: changed=0`.
 * With the install method none it fails: Docker was installed outside moor.
 */
import { UsageError } from '../errors.js';
import { FAMILIES, UnsupportedOsError, type Family, type OsRelease } from './os.js';
import { INSTALL_METHODS, type InstallMethod } from './plan.js';
import { renderScript } from './render.js';

export interface UpgradeInput {
  /** From detectFamily/familyOf; null for a distribution moor does not know (then only script or none). */
  family: Family | null;
  os: OsRelease;
  sshUser: string;
  /** The method Docker was installed with (the machine's EngineOptions.InstallMethod). */
  installMethod: InstallMethod;
  /** A package version prefix (apt, dnf, yum) or the install script's VERSION; absent: the newest. */
  engineVersion?: string;
  /** The install script's URL (EngineOptions.InstallURL): required by script, '' for the other methods. */
  installUrl: string;
  /** Prefix for the paths the script looks at; '' (the default) on real hosts. The tests use a sandbox. */
  fsRoot?: string;
}

// The checks below repeat plan.ts's, whose helpers and constants are not exported (checkText,
// VERSION_PATTERN, VERSIONED_FAMILIES, the Enterprise Linux IDs): keep them in step.
const VERSION_PATTERN = /^[0-9A-Za-z.~+:-]+$/;
/** Package managers that can install a given (also older) version: apt, dnf, yum. */
const VERSIONED_FAMILIES: readonly Family[] = ['debian', 'rhel', 'amazon'];
const EL_IDS = ['rhel', 'centos', 'rocky', 'almalinux', 'ol'];
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function buildUpgradeScript(input: UpgradeInput): string {
  validateInput(input);
  const { family, installMethod } = input;
  return renderScript('upgrade-docker.sh', {
    sudo: input.sshUser === 'root' ? '' : 'sudo -n',
    root: input.fsRoot ?? '',
    method: installMethod,
    family: family ?? 'unknown',
    version: input.engineVersion ?? '',
    installUrl: installMethod === 'script' ? input.installUrl : '',
    // Enterprise Linux runs docker-ce from Docker's repository; Fedora its own moby-engine (as plan.ts).
    dockerCe: family === 'rhel' && isEnterpriseLinux(input.os),
  });
}

function isEnterpriseLinux(os: OsRelease): boolean {
  return EL_IDS.includes(os.id) || os.idLike.some((like) => like === 'rhel' || like === 'centos');
}

function checkText(what: string, value: string): void {
  if (CONTROL.test(value)) {
    throw new UsageError(`${what} ${JSON.stringify(value)} contains a line break or another control character.`);
  }
}

function validateInput(input: UpgradeInput): void {
  const { installMethod, family } = input;
  if (!INSTALL_METHODS.includes(installMethod)) {
    throw new UsageError(
      `Unknown --engine-install-method "${String(installMethod)}": use ${INSTALL_METHODS.join(', ')}.`,
    );
  }
  if (family !== null && !FAMILIES.includes(family)) throw new UsageError(`Unknown OS family "${String(family)}".`);
  if (family === null && installMethod === 'packages') throw new UnsupportedOsError(input.os);
  if (input.sshUser === '') throw new UsageError('The SSH user is empty.');
  checkText('SSH user', input.sshUser);
  if (input.fsRoot !== undefined && input.fsRoot !== '') {
    checkText('Root folder', input.fsRoot);
    if (!input.fsRoot.startsWith('/')) throw new UsageError(`Root folder "${input.fsRoot}" is not absolute.`);
  }

  const url = input.installUrl;
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

  const version = input.engineVersion;
  if (version !== undefined && version !== '') {
    if (!VERSION_PATTERN.test(version)) {
      throw new UsageError(
        `--engine-version "${version}" may contain only letters, digits and . ~ + : - (for example 24.0.7).`,
      );
    }
    if (installMethod === 'none')
      throw new UsageError('--engine-version has no effect with --engine-install-method none.');
    if (installMethod === 'packages' && family !== null && !VERSIONED_FAMILIES.includes(family)) {
      throw new UsageError(
        `--engine-version is not supported with distribution packages on ${input.os.id} (its repositories carry one version).`,
        ['Leave out --engine-version to upgrade to the newest version its repositories carry.'],
      );
    }
  }
}
