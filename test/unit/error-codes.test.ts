/**
 * README "Errors" documents every error code moor gives: the codes are read from the sources (`code:
 * 'X'`, a fallback `?? 'X'` next to a code, the code argument of a UsageError, the command line's
 * UsageCode and the store's StoreFault) and each must appear in the README's table, with the exit code 130
 * of an interrupt in the exit code table.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => readFileSync(join(ROOT, dir, file), 'utf8'));
}

function codesIn(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(
    /code:\s*(?:[\w?.]+\s*\?\?\s*)?(?:[\w.]+\s*\?\s*)?'([A-Z][A-Z0-9_]+)'(?:\s*:\s*'([A-Z][A-Z0-9_]+)')?/g,
  )) {
    found.add(match[1]!);
    if (match[2]) found.add(match[2]);
  }
  for (const match of text.matchAll(/code\s*=\s*'([A-Z][A-Z0-9_]+)'/g)) found.add(match[1]!);
  for (const match of text.matchAll(
    /UsageError\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*?'([A-Z][A-Z0-9_]{2,})'\s*,?\s*\)/g,
  )) {
    found.add(match[1]!);
  }
  return [...found];
}

describe('error codes', () => {
  const text = [...sources('src'), ...sources('drivers')].join('\n');
  const usage = readFileSync(join(ROOT, 'src/cli/usage.ts'), 'utf8');
  const errors = readFileSync(join(ROOT, 'src/core/errors.ts'), 'utf8');
  const block = (source: string, start: string) => source.slice(source.indexOf(start)).split(/\n[}]|;\n/)[0]!;
  const codes = new Set([
    ...codesIn(text),
    ...[...block(usage, 'export const UsageCode').matchAll(/'([A-Z_]+)'/g)].map((match) => match[1]!),
    ...[...block(errors, 'export type StoreFault').matchAll(/'([A-Z_]+)'/g)].map((match) => match[1]!),
  ]);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('### Errors'), readme.indexOf('## The store'));

  it('finds the codes of every kind of source (a sanity check of the scan)', () => {
    for (const code of [
      'MACHINE_NOT_FOUND',
      'INVALID_FILTER',
      'UNKNOWN_COMMAND',
      'STORE_FULL',
      'EC2_CREATE_FAILED',
      'INTERRUPTED',
    ]) {
      assert.ok(codes.has(code), code);
    }
  });

  it('documents each of them in the README table of error codes', () => {
    const missing = [...codes].filter((code) => !table.includes(`\`${code}\``)).sort();
    assert.deepEqual(missing, [], `codes missing from README "Errors": ${missing.join(', ')}`);
  });

  it('documents exit code 130', () => {
    assert.match(readme, /^\| 130 \| interrupted/m);
  });
});
