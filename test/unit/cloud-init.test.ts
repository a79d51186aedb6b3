/**
 * The VM seed's engine configuration script (drivers/shared/vm/cloud-init.ts): the YAML cloud-init reads,
 * and the command in its bootcmd run for real with sh, with a stub systemd-run (cloud-init-per left out: it
 * only decides whether to run it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import {
  buildSeedIso,
  ENGINE_CONFIG_UNIT,
  engineConfigCommand,
  userData,
  type SeedOptions,
} from '../../drivers/shared/vm/cloud-init.js';
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

const HOSTILE = `it's "double" $(touch ${work}/pwned) \`touch ${work}/pwned\`; * ~ \\ $HOME %h %% \n\u00e9\t`;
/** A script that writes HOSTILE to out, shows what its stdin holds, and exits 3. */
const SCRIPT = [
  '#!/bin/sh',
  `printf '%s' '${HOSTILE.replace(/'/g, `'\\''`)}' >'${work}/out'`,
  'echo "stdin: $(cat)"',
  'exit 3',
  '',
].join('\n');

/** A folder with a systemd-run stub that logs its arguments (NUL-separated) and exits with `status`. */
function stubs(status: number): { bin: string; log: string } {
  const bin = mkdtempSync(join(work, 'bin-'));
  const log = join(bin, 'systemd-run.args');
  writeFileSync(join(bin, 'systemd-run'), `#!/bin/sh\nprintf '%s\\0' "$@" >'${log}'\nexit ${status}\n`);
  chmodSync(join(bin, 'systemd-run'), 0o755);
  return { bin, log };
}

/** Runs bootcmd's entry as cloud-init-per would (its command after the tag), with stdin open. */
function runEntry(entry: string[], bin: string) {
  assert.deepEqual(entry.slice(0, 4), ['cloud-init-per', 'instance', ENGINE_CONFIG_UNIT, 'sh']);
  return spawnSync('sh', entry.slice(4), {
    encoding: 'utf8',
    input: 'stdin of cloud-init\n',
    env: { PATH: `${bin}:${process.env['PATH']}` },
  });
}

describe("the seed's engine configuration script", () => {
  it('is in bootcmd once per instance, written to /run, and absent unless given', () => {
    assert.equal((parseYaml(userData(BASE)) as { bootcmd?: unknown }).bootcmd, undefined);
    const options = { ...BASE, engineConfigScript: SCRIPT };
    assert.deepEqual((parseYaml(userData(options)) as { bootcmd: string[][] }).bootcmd, [engineConfigCommand(SCRIPT)]);
    assert.match(engineConfigCommand(SCRIPT).at(-1)!, />\/run\/moor-engine-config\.sh && exec sh \/run\//);
    const iso = join(work, 'seed.iso');
    writeFileSync(iso, buildSeedIso(options));
    assert.equal(isoFile(iso, 'user-data'), userData(options));
  });

  it('with systemd: a transient oneshot unit ordered before docker.service, whose command systemd cannot expand', () => {
    const { bin, log } = stubs(0);
    const result = runEntry(engineConfigCommand(SCRIPT, work), bin);
    assert.equal(result.status, 0, result.stderr);
    const args = readFileSync(log, 'utf8').split('\0').slice(0, -1);
    assert.deepEqual(args.slice(0, -3), [
      '--no-block',
      '--quiet',
      `--unit=${ENGINE_CONFIG_UNIT}`,
      '--service-type=oneshot',
      '-p',
      'DefaultDependencies=no',
      '-p',
      'Before=docker.service',
    ]);
    const [shell, dashC, command] = args.slice(-3);
    assert.deepEqual([shell, dashC], ['sh', '-c']);
    assert.doesNotMatch(command!, /[$%]/, 'systemd expands $ and % in a command line');
    // What the unit runs: the script, byte for byte, from its file, with stdin closed; its status kept.
    const unit = spawnSync('sh', ['-c', command!], { encoding: 'utf8', input: 'not for the script\n' });
    assert.equal(unit.status, 3, unit.stderr);
    assert.equal(unit.stdout, 'stdin: \n');
    assert.equal(readFileSync(join(work, 'out'), 'utf8'), HOSTILE);
    assert.equal(readFileSync(join(work, `${ENGINE_CONFIG_UNIT}.sh`), 'utf8'), SCRIPT);
    assert.equal(spawnSync('test', ['-e', join(work, 'pwned')]).status, 1);
  });

  it('without systemd (systemd-run fails or is missing): runs at once, stdin closed, its status kept', () => {
    rmSync(join(work, 'out'), { force: true });
    const { bin } = stubs(1);
    const result = runEntry(engineConfigCommand(SCRIPT, work), bin);
    assert.equal(result.status, 3, result.stderr);
    assert.equal(result.stdout, 'stdin: \n');
    assert.equal(readFileSync(join(work, 'out'), 'utf8'), HOSTILE);
    const ok = runEntry(engineConfigCommand('echo done\n', work), stubs(1).bin);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, 'done\n');
  });
});
