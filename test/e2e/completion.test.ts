/**
 * `moor completion bash|zsh|fish`: the scripts loaded into the real shells, asked to complete real command
 * lines (bash through its completion function, fish through `complete -C`), with `moor` on PATH and machine
 * names from a real store.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { needs, programMissing } from '../helpers/prerequisites.js';
import { assertCleanError, assertExit, BIN, run, TempStore } from './helpers.js';

describe('moor completion', () => {
  let store: TempStore;
  let binDir: string;
  const scripts: Record<string, string> = {};

  before(async () => {
    store = await TempStore.create();
    await store.createNone('web', 'tcp://127.0.0.1:1');
    await store.createNone('db', 'tcp://127.0.0.1:2');
    // `moor` on PATH, as an installed package puts it: the scripts call it for machine names.
    binDir = await mkdtemp(join(tmpdir(), 'moor-completion-bin-'));
    await writeFile(join(binDir, 'moor'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    await chmod(join(binDir, 'moor'), 0o755);
    for (const shell of ['bash', 'zsh', 'fish']) {
      const result = await store.moor(['completion', shell]);
      assertExit(result, 0, `completion ${shell}`);
      scripts[shell] = result.stdout;
    }
  });
  after(async () => {
    await store.cleanup();
    await rm(binDir, { recursive: true, force: true });
  });

  const shellEnv = () => ({ MOOR_STORAGE_PATH: store.root, PATH: `${binDir}:${process.env['PATH']}` });

  /** What bash's completion function offers for the words typed so far (the last one being completed). */
  async function bashComplete(words: string[]): Promise<string[]> {
    const script = join(store.root, 'moor.bash');
    await writeFile(script, scripts['bash']!);
    const array = words.map((word) => `'${word}'`).join(' ');
    const result = await run(
      'bash',
      [
        '-c',
        `source '${script}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _moor; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { env: shellEnv() },
    );
    assertExit(result, 0, 'bash completion');
    return result.stdout.split('\n').filter(Boolean).sort();
  }

  it('bash: commands, flags, fixed values, drivers and machine names', async () => {
    assert.deepEqual(await bashComplete(['moor', 'l']), ['ls']);
    assert.deepEqual(await bashComplete(['moor', 're']), ['regenerate-certs', 'restart']);
    assert.deepEqual(await bashComplete(['moor', 'ls', '--fi']), ['--filter']);
    assert.deepEqual(await bashComplete(['moor', 'create', '-d', '']), [
      'amazonec2',
      'generic',
      'none',
      'qemu',
      'virtualbox',
    ]);
    assert.deepEqual(await bashComplete(['moor', 'create', '--engine-transport', '']), ['ssh', 'tls']);
    assert.deepEqual(await bashComplete(['moor', 'create', '--virtualbox-mem']), ['--virtualbox-memory']);
    assert.deepEqual(await bashComplete(['moor', 'env', '--shell', 'f']), ['fish']);
    assert.deepEqual(await bashComplete(['moor', 'env', '']), ['db', 'web']);
    assert.deepEqual(await bashComplete(['moor', 'rm', '-y', 'w']), ['web']);
    assert.deepEqual(await bashComplete(['moor', 'create', '']), [], 'a new name is not an existing machine');
    // A topic: its commands, then theirs flags and machines.
    assert.deepEqual(await bashComplete(['moor', 'swarm', 'j']), ['join', 'join-token']);
    assert.deepEqual(await bashComplete(['moor', 'swarm', 'init', '']), ['db', 'web']);
    assert.deepEqual(await bashComplete(['moor', 'swarm', 'join', '--ro']), ['--role']);
  });

  it('bash: a -s typed on the line is the store the machine names come from', async () => {
    const other = await TempStore.create();
    try {
      await other.createNone('elsewhere', 'tcp://127.0.0.1:3');
      assert.deepEqual(await bashComplete(['moor', '-s', other.root, 'ssh', '']), ['elsewhere']);
    } finally {
      await other.cleanup();
    }
  });

  it('fish: the same through complete -C', async (t) => {
    if (!needs(t, programMissing('fish', ['-c', 'true'], 'apt-get install fish'))) return;
    const script = join(store.root, 'moor.fish');
    await writeFile(script, scripts['fish']!);
    const complete = async (line: string) => {
      const result = await run('fish', ['-c', `source '${script}'; complete -C '${line}'`], { env: shellEnv() });
      assertExit(result, 0, `fish complete ${line}`);
      return result.stdout
        .split('\n')
        .filter(Boolean)
        .map((item) => item.split('\t')[0])
        .sort();
    };
    assert.deepEqual(await complete('moor l'), ['ls']);
    assert.deepEqual(await complete('moor ls --fi'), ['--filter']);
    assert.deepEqual(await complete('moor create --driver '), ['amazonec2', 'generic', 'none', 'qemu', 'virtualbox']);
    assert.deepEqual(await complete('moor env '), ['db', 'web']);
    assert.deepEqual(await complete('moor swarm j'), ['join', 'join-token']);
    assert.deepEqual(await complete('moor swarm join --ro'), ['--role']);
    assert.ok((await complete('moor create --')).includes('--amazonec2-region'), 'driver flags');
  });

  it('zsh: the script loads into compinit and registers _moor for moor', async (t) => {
    if (!needs(t, programMissing('zsh', ['-c', 'true'], 'apt-get install zsh'))) return;
    const script = join(store.root, '_moor');
    await writeFile(script, scripts['zsh']!);
    const syntax = await run('zsh', ['-n', script]);
    assertExit(syntax, 0, 'zsh -n');
    const loaded = await run(
      'zsh',
      [
        '-f',
        '-c',
        `autoload -U compinit && compinit -u -D; source '${script}'; print -r -- $+functions[_moor] $_comps[moor]`,
      ],
      { env: { ...shellEnv(), HOME: store.root } },
    );
    assertExit(loaded, 0, 'zsh load');
    assert.equal(loaded.stdout, '1 _moor\n');
  });

  it('an unknown shell is a usage error that names the three', async () => {
    assertCleanError(await store.moor(['completion', 'tcsh']), 2, 'bash', 'zsh', 'fish');
  });
});
