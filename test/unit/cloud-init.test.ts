/**
 * The VM seed's boot script (drivers/shared/vm/cloud-init.ts): the YAML cloud-init reads, and the command
 * in its bootcmd run for real with sh (cloud-init-per left out: it only decides whether to run it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { BOOT_SCRIPT_TAG, buildSeedIso, userData, type SeedOptions } from '../../drivers/shared/vm/cloud-init.js';
import { isoFile, parseYaml } from '../helpers/seed.js';

const work = mkdtempSync(join(tmpdir(), 'moor-seed-'));
after(() => rmSync(work, { recursive: true, force: true }));

const BASE: SeedOptions = {
  hostname: 'm1',
  instanceId: 'moor-m1-0011aabb',
  user: 'docker',
  sshPublicKey: 'ssh-ed25519 AAAA test',
  nics: [{ id: 'eth0', mac: '52:54:00:12:34:56', setName: 'eth0' }],
};

/** The bootcmd entry of a seed's user-data, as PyYAML reads it. */
function bootcmd(options: SeedOptions): string[][] | undefined {
  return (parseYaml(userData(options)) as { bootcmd?: string[][] }).bootcmd;
}

/** Runs the entry's command after cloud-init-per's three arguments, as cloud-init-per would. */
function runEntry(entry: string[], tmp: string) {
  assert.deepEqual(entry.slice(0, 4), ['cloud-init-per', 'instance', BOOT_SCRIPT_TAG, 'sh']);
  return spawnSync(entry[3]!, entry.slice(4), {
    encoding: 'utf8',
    input: 'stdin of cloud-init\n',
    env: { PATH: process.env['PATH'], TMPDIR: tmp },
  });
}

describe('the seed boot script', () => {
  it('is absent unless given', () => {
    assert.equal(bootcmd(BASE), undefined);
    assert.doesNotMatch(userData(BASE), /bootcmd/);
  });

  it('runs once per instance, byte for byte as given, as a file with stdin closed; its status is kept', () => {
    const hostile = `it's "double" $(touch ${work}/pwned) \`touch ${work}/pwned\`; * ~ \\ $HOME\n\u00e9\t`;
    const script = [
      '#!/bin/sh',
      `printf '%s' '${hostile.replace(/'/g, `'\\''`)}' >"$OUT"`,
      'echo "stdin: $(cat)"',
      'echo "args: $#"',
      'exit 3',
      '',
    ].join('\n');
    const entries = bootcmd({ ...BASE, bootScript: script.replace('"$OUT"', `'${work}/out'`) });
    assert.equal(entries?.length, 1);
    const tmp = mkdtempSync(join(work, 'tmp-'));
    const result = runEntry(entries[0]!, tmp);
    assert.equal(result.status, 3, result.stderr);
    assert.equal(result.stdout, 'stdin: \nargs: 0\n');
    assert.equal(spawnSync('cat', [join(work, 'out')], { encoding: 'utf8' }).stdout, hostile);
    assert.deepEqual(readdirSync(tmp), [], 'the script file is removed');
    assert.equal(readdirSync(work).includes('pwned'), false);
  });

  it('a script that succeeds exits 0; the ISO carries the same user-data', () => {
    const options = { ...BASE, bootScript: 'echo done\n' };
    const tmp = mkdtempSync(join(work, 'tmp-'));
    const result = runEntry(bootcmd(options)![0]!, tmp);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'done\n');
    const iso = join(work, 'seed.iso');
    writeFileSync(iso, buildSeedIso(options));
    assert.equal(isoFile(iso, 'user-data'), userData(options));
  });
});
