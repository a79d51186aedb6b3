/**
 * The script behind `moor upgrade`: upgrades a machine's Docker engine with the method it was installed
 * with (Docker Machine's upgrade ignored the install URL and could not pin a version). Pure: validates the
 * inputs and renders templates/upgrade-docker.sh.hbs; running it over SSH is the caller's job.
 *
 * The script prints the engine version (`dockerd --version`) before and after, restarts the engine only
 * when it changed, and prints as its last line `moor: changed=1` (the version changed) or `moor: changed=0`.
 * With the install method none it fails: Docker was installed outside moor.
 */
import type { Family, OsRelease } from './os.js';
import { isEnterpriseLinux, type InstallMethod, validateHostInput, validateInstallOptions } from './plan.js';
import { sudoPrefix } from '../ssh/quote.js';
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

export function buildUpgradeScript(input: UpgradeInput): string {
  validateInput(input);
  const { family, installMethod } = input;
  return renderScript('upgrade-docker.sh', {
    sudo: sudoPrefix(input.sshUser).trimEnd(), // the template puts the space
    root: input.fsRoot ?? '',
    method: installMethod,
    family: family ?? 'unknown',
    version: input.engineVersion ?? '',
    installUrl: installMethod === 'script' ? input.installUrl : '',
    // Enterprise Linux runs docker-ce from Docker's repository; Fedora its own moby-engine (as plan.ts).
    dockerCe: family === 'rhel' && isEnterpriseLinux(input.os),
  });
}

function validateInput(input: UpgradeInput): void {
  validateHostInput(input);
  validateInstallOptions({
    installMethod: input.installMethod,
    installUrl: input.installUrl,
    ...(input.engineVersion !== undefined ? { engineVersion: input.engineVersion } : {}),
    family: input.family,
    os: input.os,
  });
}
