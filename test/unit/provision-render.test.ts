/**
 * The rendered provisioning scripts: template rules, strict rendering, shellcheck, `sh -n` and golden files
 * (test/fixtures/golden/provision; regenerate with UPDATE_GOLDEN=1).
 *
 * shellcheck and the golden files go through test/helpers/scripts.ts: shellcheck is required under CI (the
 * test fails there without it: apt-get install shellcheck) and skipped elsewhere when it is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Handlebars from 'handlebars';

import { MoorError } from '../../src/core/errors.js';
import { defaultEngineOptions, type EngineOptions } from '../../src/core/machine.js';
import { parseOsRelease, type Family } from '../../src/core/provision/os.js';
import { buildFirstBootScript, buildProvisionPlan, type InstallMethod } from '../../src/core/provision/plan.js';
import { checkAst, packageRoot, quoteValue, renderScript, templatesDir } from '../../src/core/provision/render.js';
import { GoldenFiles, shellcheck } from '../helpers/scripts.js';

const golden = new GoldenFiles('provision');

const HOSTILE = `it's "double" $(touch /tmp/moor-pwned) \`touch /tmp/moor-pwned\`; touch /tmp/moor-pwned & | > * ~ \\ %h %% $HOME $$`;
const HOSTILE_ENGINE: EngineOptions = {
  ...defaultEngineOptions(),
  Labels: [`evil=${HOSTILE}`, 'env=prod'],
  Env: [`HTTP_PROXY=${HOSTILE}`, 'NO_PROXY=localhost,127.0.0.1'],
  InsecureRegistry: ["reg.local:5000/'$(touch${IFS}/tmp/moor-pwned)`id`;x"],
  RegistryMirror: ['https://mirror.example.com/"$HOME";|&'],
  ArbitraryFlags: ['debug', 'log-opt=max-size=10m', `log-opt=tag=${HOSTILE}`, `weird-flag=${HOSTILE}`],
  StorageDriver: 'overlay2',
};
const HOSTILE_URL = "https://example.com/get.sh?a=1&b='$(touch${IFS}/tmp/moor-pwned)'`id`";

const CASES: { name: string; family: Family; os: string; pins: boolean }[] = [
  { name: 'debian', family: 'debian', os: 'ID=debian\nVERSION_ID="12"', pins: true },
  { name: 'rocky', family: 'rhel', os: 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"', pins: true },
  { name: 'fedora', family: 'rhel', os: 'ID=fedora\nVERSION_ID=40', pins: true },
  { name: 'amazon', family: 'amazon', os: 'ID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"', pins: true },
  { name: 'suse', family: 'suse', os: 'ID="sles"\nID_LIKE="suse"\nVERSION_ID="15.5"', pins: false },
  { name: 'arch', family: 'arch', os: 'ID=arch', pins: false },
  { name: 'alpine', family: 'alpine', os: 'ID=alpine\nVERSION_ID=3.20.2', pins: false },
];
const METHODS: InstallMethod[] = ['packages', 'script', 'none'];

function render(testCase: (typeof CASES)[number], method: InstallMethod, hostile = true) {
  const version = method === 'none' ? undefined : method === 'script' ? '27.1.1' : testCase.pins ? '24.0.7' : undefined;
  const engine = hostile ? HOSTILE_ENGINE : defaultEngineOptions();
  const url = hostile ? HOSTILE_URL : 'https://get.docker.com';
  return buildProvisionPlan({
    machineName: 'web-1.example',
    family: testCase.family,
    os: parseOsRelease(testCase.os),
    sshUser: 'ubuntu',
    engine: { ...engine, InstallURL: method === 'script' ? url : '' },
    enginePort: 2376,
    installMethod: method,
    ...(version === undefined ? {} : { engineVersion: version }),
    driverName: 'generic',
  });
}

const work = mkdtempSync(join(tmpdir(), 'moor-render-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('rendered scripts, for every family and install method, with hostile values', () => {
  for (const testCase of CASES) {
    for (const method of METHODS) {
      const install = `${testCase.name}.${method}.install-docker.sh`;
      it(`${install}: sh -n, shellcheck, golden`, (t) => {
        const script = render(testCase, method).steps[0]?.script ?? '';
        const file = join(work, install);
        writeFileSync(file, script);
        const syntax = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
        assert.equal(syntax.status, 0, syntax.stderr);
        assert.match(script, /^#!\/bin\/sh\n/);
        assert.match(script, /^set -eu$/m);
        assert.equal(script.includes('| sh'), false, 'nothing is piped into a shell');
        golden.compare(install, script);
        if (!shellcheck(t, file, true)) return;
        const plain = join(work, `plain.${install}`);
        writeFileSync(plain, render(testCase, method, false).steps[0]?.script ?? '');
        shellcheck(t, plain, false);
      });
    }
    const configure = `${testCase.name}.configure-docker.sh`;
    it(`${configure}: sh -n, shellcheck, golden, hostile values stay quoted`, (t) => {
      const plan = render(testCase, 'packages');
      const script = plan.steps[1]?.script ?? '';
      const file = join(work, configure);
      writeFileSync(file, script);
      const syntax = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
      assert.equal(syntax.status, 0, syntax.stderr);
      // The variable block, run alone: every value comes out exactly as rendered, and nothing ran.
      const variables = script.slice(script.indexOf('\nNAME='), script.indexOf('\n# Hostname'));
      const shell = spawnSync(
        'sh',
        ['-c', `set -eu\n${variables}\nprintf '%s\\0' "$NAME" "$DAEMON_JSON" "$DROP_IN" "$OPENRC_CONF"`],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(shell.status, 0, shell.stderr);
      assert.deepEqual(shell.stdout.split('\0').slice(0, -1), [
        'web-1.example',
        plan.daemonJson,
        plan.dropIn,
        plan.openrcConf,
      ]);
      const json = JSON.parse(plan.daemonJson) as { labels: string[]; 'log-opts': Record<string, string> };
      assert.equal(json.labels[0], `evil=${HOSTILE}`);
      assert.equal(json['log-opts']['tag'], HOSTILE);
      golden.compare(configure, script);
      if (!shellcheck(t, file, true)) return;
      const plain = join(work, `plain.${configure}`);
      writeFileSync(plain, render(testCase, 'packages', false).steps[1]?.script ?? '');
      shellcheck(t, plain, false);
    });
  }

  it('first-boot.configure-docker.sh (the same for every OS): sh -n, shellcheck, golden', (t) => {
    const firstBoot = (engine: EngineOptions) =>
      buildFirstBootScript({
        machineName: 'web-1.example',
        engine: { ...engine, Transport: 'ssh' },
        enginePort: 2376,
        driverName: 'qemu',
      });
    const script = firstBoot(HOSTILE_ENGINE);
    const file = join(work, 'first-boot.configure-docker.sh');
    writeFileSync(file, script);
    const syntax = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    // As root: no sudo. cloud-init names the host: no hostname. The boot starts the engine.
    assert.match(script, /^SUDO=''$/m);
    assert.doesNotMatch(script, /# Hostname|systemctl (re)?start|rc-service docker "\$action"/);
    assert.doesNotMatch(script, /tcp:\/\//, 'the ssh transport: no TCP listener');
    golden.compare('first-boot.configure-docker.sh', script);
    if (!shellcheck(t, file, true)) return;
    const plain = join(work, 'plain.first-boot.configure-docker.sh');
    writeFileSync(plain, firstBoot(defaultEngineOptions()));
    shellcheck(t, plain, false);
  });

  it('has no golden file that no test renders', () => {
    const expected = CASES.flatMap((testCase) => [
      `${testCase.name}.configure-docker.sh`,
      ...METHODS.map((method) => `${testCase.name}.${method}.install-docker.sh`),
    ]);
    expected.push('first-boot.configure-docker.sh');
    assert.deepEqual(golden.stale(expected), []);
  });
});

describe('renderScript', () => {
  const context = {
    sudo: '',
    root: '',
    firstBoot: false,
    hostname: 'h',
    daemonJson: '{}',
    dropIn: '',
    openrcConf: '',
  };

  it('renders with a complete context', () => {
    assert.match(renderScript('configure-docker.sh', context), /^NAME=h$/m);
  });

  it('throws, naming the value, when the context lacks one (strict mode)', () => {
    for (const missing of ['hostname', 'sudo', 'root']) {
      const partial: Record<string, string | boolean> = { ...context };
      delete partial[missing];
      assert.throws(
        () => renderScript('configure-docker.sh', partial),
        (error: unknown) => {
          assert.ok(error instanceof MoorError);
          assert.equal(error.code, 'PROVISION_TEMPLATE');
          assert.match(error.message, new RegExp(`configure-docker\\.sh: the context has no value for "${missing}"`));
          return true;
        },
      );
    }
    // A value that is undefined counts as missing too.
    assert.throws(() => renderScript('configure-docker.sh', { ...context, dropIn: undefined as never }), /"dropIn"/);
  });

  it('throws on a value that is not a string or number', () => {
    assert.throws(() => renderScript('configure-docker.sh', { ...context, hostname: true }), /q expects a string/);
    assert.throws(() => quoteValue({}), /q expects a string/);
    assert.throws(() => quoteValue('a\0b'), /NUL/);
    assert.equal(quoteValue(2376), '2376');
    assert.equal(quoteValue(''), "''");
    assert.equal(quoteValue("a'b"), `'a'\\''b'`);
  });

  it('refuses template names that are not plain script names', () => {
    assert.throws(() => renderScript('../package.json', context), /invalid template name/);
    assert.throws(() => renderScript('nope.sh', context), /nope\.sh\.hbs not found/);
  });

  it('finds templates/ from the package root, from src/ or from a bundle in dist/', () => {
    assert.ok(existsSync(join(templatesDir(), 'install-docker.sh.hbs')));
    const fake = mkdtempSync(join(work, 'pkg-'));
    writeFileSync(join(fake, 'package.json'), '{}');
    mkdirSync(join(fake, 'dist/chunks'), { recursive: true });
    assert.equal(packageRoot(join(fake, 'dist/chunks')), fake);
  });
});

describe('template rules', () => {
  const parse = (source: string) => checkAst(Handlebars.parse(source), 'test');

  it('holds for every template and partial in templates/', () => {
    const dir = templatesDir();
    const files = [
      ...readdirSync(dir).filter((file) => file.endsWith('.hbs')),
      ...readdirSync(join(dir, 'partials')).map((file) => `partials/${file}`),
    ];
    assert.ok(files.length >= 10);
    for (const file of files) parse(readFileSync(join(dir, file), 'utf8'));
  });

  it('collects the names and partials a template uses', () => {
    const used = parse('A={{q a}}\n{{#if (eq b "x")}}{{> p}}{{else}}{{#unless c}}{{q d}}{{/unless}}{{/if}}');
    assert.deepEqual([...used.names].sort(), ['a', 'b', 'c', 'd']);
    assert.deepEqual([...used.partials], ['p']);
  });

  it('rejects unquoted output and anything but plain names, if/unless/eq and static partials', () => {
    const bad: [string, RegExp][] = [
      ['{{x}}', /print values only as \{\{q name\}\}/],
      ['{{{q x}}}', /not triple braces/],
      ['{{q x y}}', /print values only/],
      ['{{q a.b}}', /plain context name/],
      ['{{q ../a}}', /plain context name/],
      ['{{q @root}}', /plain context name/],
      ['{{q "literal"}}', /expected a context name/],
      ['{{#each xs}}{{/each}}', /blocks are/],
      ['{{#if (eq a b)}}{{/if}}', /conditions are/],
      ['{{#if (lookup a "b")}}{{/if}}', /conditions are/],
      ['{{> (lookup . "p")}}', /partials are included as/],
      ['{{> p x}}', /partials are included as/],
      ['line\n{{x}}', /test\.hbs line 2/],
    ];
    for (const [source, message] of bad) assert.throws(() => parse(source), message, source);
  });
});
