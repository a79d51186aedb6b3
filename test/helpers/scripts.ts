/**
 * Checks of rendered shell scripts shared by the provisioning tests (provision-render, provision-upgrade):
 * shellcheck and golden files (test/fixtures/golden/<set>, regenerated with UPDATE_GOLDEN=1).
 * shellcheck is required under CI and skipped elsewhere when missing (test/helpers/prerequisites.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { packageRoot } from '../../src/core/provision/render.js';
import { needs, programMissing } from './prerequisites.js';

/** UPDATE_GOLDEN=1 rewrites the golden files instead of comparing against them. */
export const UPDATE_GOLDEN = process.env['UPDATE_GOLDEN'] === '1';

const SHELLCHECK_MISSING = programMissing('shellcheck', ['--version'], 'apt-get install shellcheck');

/**
 * Runs shellcheck (as POSIX sh) on `file`, or skips the test when shellcheck is missing outside CI; true
 * when it ran and passed. Scripts rendered with plain values must be spotless (`hostile` false). With
 * hostile values, two notes about single-quoted text that looks like code are the point, since `$(…)`,
 * backticks and backslashes in a value are data: SC2016 ("expressions don't expand in single quotes") and
 * SC1003 ("want to escape a single quote?").
 */
export function shellcheck(t: TestContext, file: string, hostile: boolean): boolean {
  if (!needs(t, SHELLCHECK_MISSING)) return false;
  const args = ['-s', 'sh', ...(hostile ? ['-e', 'SC2016,SC1003'] : []), file];
  const check = spawnSync('shellcheck', args, { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  return true;
}

/** One folder of golden files, test/fixtures/golden/<name>. */
export class GoldenFiles {
  readonly dir: string;

  constructor(name: string) {
    this.dir = join(packageRoot(), 'test/fixtures/golden', name);
  }

  /** Asserts that `actual` is the content of golden file `file` (or writes it under UPDATE_GOLDEN=1). */
  compare(file: string, actual: string): void {
    const path = join(this.dir, file);
    if (UPDATE_GOLDEN) {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(path, actual);
      return;
    }
    assert.ok(existsSync(path), `golden file ${path} is missing: run the tests with UPDATE_GOLDEN=1`);
    assert.equal(
      actual,
      readFileSync(path, 'utf8'),
      `${file} differs from its golden file (UPDATE_GOLDEN=1 updates it)`,
    );
  }

  /** Golden files that no case produces any more (to delete); none under UPDATE_GOLDEN=1. */
  stale(expected: Iterable<string>): string[] {
    if (UPDATE_GOLDEN || !existsSync(this.dir)) return [];
    const wanted = new Set(expected);
    return readdirSync(this.dir).filter((file) => !wanted.has(file));
  }
}
