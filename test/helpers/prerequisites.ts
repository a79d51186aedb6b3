/**
 * The one rule for tests whose prerequisite may be missing here (a program such as tcsh, shellcheck or
 * sshd; root and test hosts): on a developer's machine they are skipped with the reason; under CI, where
 * .ci/run installs everything they need, they FAIL with the reason, since a silent skip there would hide
 * that nothing ran. Every test with such a prerequisite goes through one of these functions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it, type TestContext } from 'node:test';

/** Under CI: CI is set (as CI services and .ci/run set it), and not to "false" or "0". */
export const IN_CI = !['', 'false', '0'].includes(process.env['CI'] ?? '');

function ciFailure(missing: string): string {
  return `CI must run this test, but its prerequisite is missing: ${missing}`;
}

/**
 * Inside a test: whether it can run. When `missing` says why not, the test is marked skipped (and the
 * caller returns), or under CI it fails at once.
 */
export function needs(t: TestContext, missing: string | undefined): boolean {
  if (missing === undefined) return true;
  if (IN_CI) assert.fail(ciFailure(missing));
  t.skip(missing);
  return false;
}

/**
 * For a whole file or suite: true when it can run. Otherwise registers one test named `title` in its place
 * (a test, not a skipped suite, so that the runner counts it): skipped with the reason, or failed under CI.
 */
export function canRun(title: string, missing: string | undefined): boolean {
  if (missing === undefined) return true;
  if (IN_CI) it(title, () => assert.fail(ciFailure(missing)));
  else it(title, { skip: missing }, () => undefined);
  return false;
}

/**
 * The `skip` option of a suite whose own setup fails with a clear message when the prerequisite is
 * missing (startSshd names the package): skipped with the reason here, run (and so failed) under CI.
 */
export function skipOutsideCI(missing: string | undefined): string | false {
  return missing !== undefined && !IN_CI ? missing : false;
}

/** Why `program` cannot run here (it did not exit 0 with `args`), naming the package; undefined when it can. */
export function programMissing(program: string, args: string[], install: string): string | undefined {
  const probe = spawnSync(program, args, { stdio: 'ignore' });
  return probe.status === 0 ? undefined : `${program} is not installed (${install})`;
}

/**
 * Why file systems cannot be mounted here (tmpfs, read-only bind mounts: tests of a full or read-only store
 * need root and the mount capability, which CI has); undefined when they can.
 */
export function mountMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a file system needs root';
  const dir = mkdtempSync(join(tmpdir(), 'moor-mount-probe-'));
  try {
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', dir], { stdio: 'ignore' }).status !== 0) {
      return 'mount -t tmpfs failed (no CAP_SYS_ADMIN here?)';
    }
    spawnSync('umount', [dir], { stdio: 'ignore' });
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
