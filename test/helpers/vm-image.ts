/**
 * Bootable cloud-style qcow2 images for the qemu driver's tests, built once by vm-image.sh and cached under
 * /var/cache/moor-vmimage, or $VM_CACHE (inherited by the script: a second cache for a changed recipe, whose
 * build would otherwise remove the images other test runs boot), keyed by a hash of the recipe: `base` (cloud-init with NoCloud, openssh-server),
 * `docker` (the same with Debian's docker.io preinstalled), `noboot` (a boot loader that prints to the serial
 * console and never starts an OS). They start from the test hosts' cached root file system, so they need
 * what test hosts need (root, systemd-nspawn), plus QEMU.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testHostsAvailable } from './testhost.js';

export const VM_IMAGE_SCRIPT = fileURLToPath(new URL('./vm-image.sh', import.meta.url));

export interface VmImages {
  base: string;
  docker: string;
  noboot: string;
}

/** Why the VM tests cannot run here (undefined when they can). */
export function vmTestsMissing(): string | undefined {
  const hosts = testHostsAvailable();
  if (!hosts.ok) return hosts.reason;
  for (const [program, args] of [
    ['qemu-system-x86_64', ['--version']],
    ['qemu-img', ['--version']],
  ] as const) {
    if (spawnSync(program, args, { stdio: 'ignore' }).status !== 0) {
      return `${program} is not installed (apt-get install qemu-system-x86 qemu-utils)`;
    }
  }
  if (process.arch !== 'x64') return `the test images are x86_64 (this is ${process.arch})`;
  return undefined;
}

let built: VmImages | undefined;

/** The three images (built on first use: several minutes; cached afterwards). */
export function vmImages(): VmImages {
  if (built) return built;
  const result = spawnSync('bash', [VM_IMAGE_SCRIPT, 'build'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 40 * 60_000,
  });
  if (result.status !== 0) {
    throw new Error(`vm-image.sh build failed (${result.status ?? result.signal}):\n${result.stderr}`);
  }
  const [base, docker, noboot] = result.stdout.trim().split('\n');
  if (!base || !docker || !noboot) throw new Error(`vm-image.sh build printed ${JSON.stringify(result.stdout)}`);
  built = { base, docker, noboot };
  return built;
}
