/** version and --help of every command, including create's per-driver help. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertExit, moor, ROOT } from './helpers.js';

interface ManifestFlag {
  name: string;
  helpGroup?: string;
}
const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
  commands: Record<string, { flags: Record<string, ManifestFlag> }>;
};
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const ALL_COMMANDS = Object.keys(manifest.commands).sort();
const COMMANDS = ALL_COMMANDS;
const DRIVER_GROUP = / DRIVER$/;

describe('version and help', () => {
  it('version without a name prints moor version 0.1.0 (node ..., platform-arch)', async () => {
    assert.equal(pkg.version, '0.1.0');
    const result = await moor(['version']);
    assertExit(result, 0);
    assert.equal(result.stdout, `moor version 0.1.0 (node ${process.version}, ${process.platform}-${process.arch})\n`);
    // Node 20 only: one note that its support ends with the AWS SDK's (command-line.test.ts has its words).
    if (Number(process.versions.node.split('.')[0]) >= 22) assert.equal(result.stderr, '');
    else assert.match(result.stderr, /^\S+Z Note: Node v20\.\S+ is past its end of life;[^\n]*\n$/);
  });

  it('knows the commands of docker-machine that moor implements', () => {
    for (const command of ['active', 'config', 'create', 'env', 'inspect', 'ip', 'kill', 'ls', 'restart', 'rm']) {
      assert.ok(COMMANDS.includes(command), command);
    }
    for (const command of ['start', 'status', 'stop', 'url', 'version']) assert.ok(COMMANDS.includes(command), command);
  });

  it('every command --help exits 0 and prints its usage', async () => {
    // (`moor help --help` is oclif's root help; `help` is checked below.)
    const COMMANDS = ALL_COMMANDS.filter((command) => command !== 'help');
    // A command of a topic (id "swarm:init") is typed as words: moor swarm init.
    const results = await Promise.all(COMMANDS.map((command) => moor([...command.split(':'), '--help'])));
    COMMANDS.forEach((command, index) => {
      const result = results[index]!;
      const typed = command.replace(/:/g, ' ');
      assertExit(result, 0, `${typed} --help`);
      assert.ok(result.stdout.includes('USAGE'), `${typed} --help:\n${result.stdout}`);
      assert.ok(result.stdout.includes(`$ moor ${typed}`), `${typed} --help:\n${result.stdout}`);
    });
  });

  it("moor help COMMAND shows that command's help, as docker-machine help did", async () => {
    const result = await moor(['help', 'create']);
    assertExit(result, 0);
    assert.ok(result.stdout.includes('$ moor create NAME'), result.stdout);
    assert.ok(result.stdout.includes('NONE DRIVER FLAGS'), result.stdout);
  });

  it('moor --help lists every command', async () => {
    const result = await moor(['--help']);
    assertExit(result, 0);
    // Topics (swarm) are listed once, by their word.
    const listed = new Set(COMMANDS.map((command) => command.split(':')[0]!));
    for (const command of listed) assert.match(result.stdout, new RegExp(`^  ${command} `, 'm'), command);
  });

  it('create --help shows the engine, TLS and every driver flag group, --url included', async () => {
    const result = await moor(['create', '--help']);
    assertExit(result, 0);
    for (const heading of ['ENGINE FLAGS', 'TLS FLAGS', 'NONE DRIVER FLAGS']) {
      assert.ok(result.stdout.includes(heading), heading);
    }
    assert.match(result.stdout, /--url=<value>/);
    const groups = new Set(
      Object.values(manifest.commands['create']!.flags)
        .map((flag) => flag.helpGroup ?? '')
        .filter((group) => DRIVER_GROUP.test(group)),
    );
    for (const group of groups) assert.ok(result.stdout.includes(`${group.toUpperCase()} FLAGS`), group);
  });

  for (const variant of [
    { title: 'create --driver none --help', args: ['create', '--driver', 'none', '--help'], env: {} },
    { title: 'create -d none --help', args: ['create', '-d', 'none', '--help'], env: {} },
    { title: 'create --driver=none --help', args: ['create', '--driver=none', '--help'], env: {} },
    { title: 'MOOR_DRIVER=none create --help', args: ['create', '--help'], env: { MOOR_DRIVER: 'none' } },
  ]) {
    it(`${variant.title} shows --url and no flag of another driver's help group`, async () => {
      const result = await moor(variant.args, { env: variant.env });
      assertExit(result, 0);
      assert.match(result.stdout, /--url=<value>/);
      assert.ok(result.stdout.includes('NONE DRIVER FLAGS'));
      assert.ok(result.stdout.includes('ENGINE FLAGS'), 'the common groups stay');
      const headings = result.stdout.split('\n').filter((line) => / DRIVER FLAGS$/.test(line));
      assert.deepEqual(headings, ['NONE DRIVER FLAGS']);
      for (const flag of Object.values(manifest.commands['create']!.flags)) {
        const group = flag.helpGroup ?? '';
        if (DRIVER_GROUP.test(group) && group !== 'none DRIVER') {
          assert.ok(!result.stdout.includes(`--${flag.name}`), `--${flag.name} (${group}) must be hidden`);
        }
      }
    });
  }
});
