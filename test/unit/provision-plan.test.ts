import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

import { ExitCode, MoorError, UsageError } from '../../src/core/errors.js';
import { defaultEngineOptions, type EngineOptions } from '../../src/core/machine.js';
import { systemdEnvAssignment, systemdExecArg } from '../../src/core/provision/daemon-config.js';
import { parseOsRelease, type Family } from '../../src/core/provision/os.js';
import { buildProvisionPlan, type ProvisionInput } from '../../src/core/provision/plan.js';

const HOSTILE = `it's "double" $(touch /tmp/moor-pwned) \`touch /tmp/moor-pwned\`; touch /tmp/moor-pwned & | > * ~ \\ %h %% $HOME $$`;

const OS: Record<string, string> = {
  debian: 'ID=debian\nVERSION_ID="12"',
  rocky: 'ID="rocky"\nID_LIKE="rhel centos fedora"',
  rhel: 'ID="rhel"\nID_LIKE="fedora"',
  ol: 'ID="ol"\nID_LIKE="fedora"',
  fedora: 'ID=fedora',
  amzn: 'ID="amzn"\nID_LIKE="fedora"',
  sles: 'ID="sles"\nID_LIKE="suse"',
  arch: 'ID=arch',
  alpine: 'ID=alpine',
};

function input(overrides: Partial<ProvisionInput> = {}, engine: Partial<EngineOptions> = {}): ProvisionInput {
  return {
    machineName: 'web1',
    family: 'debian',
    os: parseOsRelease(OS['debian'] as string),
    sshUser: 'ubuntu',
    engine: { ...defaultEngineOptions(), ...engine },
    enginePort: 2376,
    installMethod: 'packages',
    driverName: 'generic',
    ...overrides,
  };
}

function plan(overrides: Partial<ProvisionInput> = {}, engine: Partial<EngineOptions> = {}) {
  return buildProvisionPlan(input(overrides, engine));
}

function daemonJson(engine: Partial<EngineOptions>): Record<string, unknown> {
  return JSON.parse(plan({}, engine).daemonJson) as Record<string, unknown>;
}

function assertUsage(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    assert.equal(error.exitCode, ExitCode.usage);
    assert.match(error.message, message);
    return true;
  });
}

/**
 * An independent reading of a systemd ExecStart=/Environment= value (systemd.syntax(7)): specifiers
 * (%% -> %) on the raw line, then words split on spaces with "…" quoting and C escapes, then (ExecStart
 * only) $$ -> $. Good enough for the characters moor's quoting produces.
 */
function systemdWords(line: string, exec: boolean): string[] {
  const raw = line.replace(/%(.)/g, (_match, next: string) => {
    assert.equal(next, '%', `unescaped specifier %${next} in ${line}`);
    return '%';
  });
  const words: string[] = [];
  let i = 0;
  while (i < raw.length) {
    if (raw[i] === ' ') {
      i++;
      continue;
    }
    let word = '';
    if (raw[i] === '"') {
      i++;
      while (raw[i] !== '"') {
        assert.ok(i < raw.length, `unterminated quote in ${line}`);
        if (raw[i] === '\\') {
          const escaped = raw[i + 1] as string;
          assert.ok(['\\', '"'].includes(escaped), `unexpected escape \\${escaped}`);
          word += escaped;
          i += 2;
        } else word += raw[i++];
      }
      i++;
      assert.ok(i >= raw.length || raw[i] === ' ', 'a quoted word ends at a space');
    } else {
      while (i < raw.length && raw[i] !== ' ') {
        assert.ok(!['"', '\\', "'"].includes(raw[i] as string), `unquoted special character in ${line}`);
        word += raw[i++];
      }
    }
    if (exec) {
      assert.ok(!/(^|[^$])\$([^$]|$)/.test(word.replace(/\$\$/g, '')), `lone $ in ${word}`);
      word = word.replace(/\$\$/g, '$');
    }
    words.push(word);
  }
  return words;
}

describe('buildProvisionPlan: daemon.json', () => {
  it('has the provider label, TLS with client verification and the certificate paths, and never "hosts"', () => {
    assert.deepEqual(daemonJson({}), {
      labels: ['provider=generic'],
      tls: true,
      tlsverify: true,
      tlscacert: '/etc/docker/ca.pem',
      tlscert: '/etc/docker/server.pem',
      tlskey: '/etc/docker/server-key.pem',
    });
  });

  it('round-trips hostile labels and registries exactly', () => {
    const json = daemonJson({
      Labels: [`evil=${HOSTILE}`, 'env=prod'],
      InsecureRegistry: ["reg.local:5000/'$(id)`id`;x"],
      RegistryMirror: ['https://mirror.example.com/"$HOME"'],
      StorageDriver: 'overlay2',
    });
    assert.deepEqual(json['labels'], [`evil=${HOSTILE}`, 'env=prod', 'provider=generic']);
    assert.deepEqual(json['insecure-registries'], ["reg.local:5000/'$(id)`id`;x"]);
    assert.deepEqual(json['registry-mirrors'], ['https://mirror.example.com/"$HOME"']);
    assert.equal(json['storage-driver'], 'overlay2');
    assert.equal('hosts' in json, false);
  });

  it("keeps the user's own provider label instead of adding one", () => {
    assert.deepEqual(daemonJson({ Labels: ['provider=mine'] })['labels'], ['provider=mine']);
  });

  it('maps --engine-opt options dockerd knows as JSON keys, with their types', () => {
    const json = daemonJson({
      Labels: ['a=1'],
      InsecureRegistry: ['r1:5000'],
      ArbitraryFlags: [
        'debug',
        'live-restore=false',
        'mtu=1400',
        'bip=172.26.0.1/16',
        'log-opt=max-size=10m',
        'log-opt=tag={{.Name}}',
        'log-opt=__proto__=x',
        'dns=1.1.1.1',
        'dns=8.8.8.8',
        'label=b=2',
        'insecure-registry=r2:5000',
        'exec-opt=native.cgroupdriver=systemd',
      ],
    });
    assert.equal(json['debug'], true);
    assert.equal(json['live-restore'], false);
    assert.equal(json['mtu'], 1400);
    assert.equal(json['bip'], '172.26.0.1/16');
    assert.deepEqual({ ...(json['log-opts'] as object) }, { 'max-size': '10m', tag: '{{.Name}}', ['__proto__']: 'x' });
    assert.deepEqual(json['dns'], ['1.1.1.1', '8.8.8.8']);
    assert.deepEqual(json['labels'], ['a=1', 'b=2', 'provider=generic']);
    assert.deepEqual(json['insecure-registries'], ['r1:5000', 'r2:5000']);
    assert.deepEqual(json['exec-opts'], ['native.cgroupdriver=systemd']);
  });

  it('passes unknown --engine-opt options as dockerd flags, never in daemon.json', () => {
    const result = plan({}, { ArbitraryFlags: ['default-ulimit=nofile=1024:2048', 'some-new-flag'] });
    assert.equal(result.daemonJson.includes('ulimit'), false);
    assert.match(
      result.dropIn,
      /^ExecStart=@DOCKERD@ -H @LOCAL_HOST@ -H tcp:\/\/0\.0\.0\.0:2376 --default-ulimit=nofile=1024:2048 --some-new-flag$/m,
    );
    assert.match(result.openrcConf, /^DOCKER_OPTS='-H unix:\/\/\/var\/run\/docker\.sock .* --some-new-flag'$/m);
  });

  it('rejects options moor manages, duplicates and malformed values', () => {
    for (const opt of [
      'host=tcp://0.0.0.0:2375',
      'H=unix:///x',
      'tlsverify=false',
      'tls',
      'tlskey=/k',
      'config-file=/x',
    ]) {
      assertUsage(() => plan({}, { ArbitraryFlags: [opt] }), /cannot be set: moor manages/);
    }
    assertUsage(
      () => plan({}, { StorageDriver: 'overlay2', ArbitraryFlags: ['storage-driver=btrfs'] }),
      /more than once.*--engine-storage-driver/,
    );
    assertUsage(() => plan({}, { ArbitraryFlags: ['mtu=1400', 'mtu=1500'] }), /mtu is set more than once/);
    assertUsage(() => plan({}, { ArbitraryFlags: ['debug=maybe'] }), /takes true or false/);
    assertUsage(() => plan({}, { ArbitraryFlags: ['mtu=big'] }), /whole number/);
    assertUsage(() => plan({}, { ArbitraryFlags: ['log-opt=nokey'] }), /takes key=value/);
    assertUsage(() => plan({}, { ArbitraryFlags: ['bip'] }), /needs a value/);
  });
});

describe('buildProvisionPlan: service configuration', () => {
  it('writes a drop-in that resets ExecStart and listens on the engine port', () => {
    const result = plan({ enginePort: 12376 }, { Env: ['HTTP_PROXY=http://proxy:3128'] });
    assert.deepEqual(result.dropIn.split('\n').slice(1), [
      '[Service]',
      'ExecStart=',
      'ExecStart=@DOCKERD@ -H @LOCAL_HOST@ -H tcp://0.0.0.0:12376',
      'Environment="HTTP_PROXY=http://proxy:3128"',
    ]);
    assert.match(result.dropIn, /^# Written by moor/);
  });

  it('quotes hostile --engine-env values and flags for systemd', () => {
    const env = [`HTTP_PROXY=${HOSTILE}`, 'EMPTY=', 'BACKSLASH=a\\nb\\"c'];
    const flag = `--weird=${HOSTILE}`;
    const result = plan({}, { Env: env, ArbitraryFlags: [flag.slice(2)] });
    const lines = result.dropIn.split('\n');
    const exec = lines.find((line) => line.startsWith('ExecStart=@'));
    assert.ok(exec !== undefined);
    assert.deepEqual(systemdWords(exec.slice('ExecStart='.length), true), [
      '@DOCKERD@',
      '-H',
      '@LOCAL_HOST@',
      '-H',
      'tcp://0.0.0.0:2376',
      flag,
    ]);
    const assignments = lines
      .filter((line) => line.startsWith('Environment='))
      .map((line) => systemdWords(line.slice('Environment='.length), false));
    assert.deepEqual(
      assignments,
      env.map((assignment) => [assignment]),
    );
  });

  it('quotes systemd words only when needed', () => {
    assert.equal(systemdExecArg('--log-level=debug'), '--log-level=debug');
    assert.equal(systemdExecArg('--a=b c'), '"--a=b c"');
    assert.equal(systemdExecArg('--a=$X%i"\\'), '"--a=$$X%%i\\"\\\\"');
    assert.equal(systemdEnvAssignment('A', '$X%i'), '"A=$X%%i"');
  });

  it('writes /etc/conf.d/docker for OpenRC, which its init script evaluates as shell words', () => {
    const env = [`HTTP_PROXY=${HOSTILE}`, 'NO_PROXY=localhost,127.0.0.1'];
    const flag = `--weird=${HOSTILE}`;
    const result = plan(
      { family: 'alpine', os: parseOsRelease('ID=alpine') },
      { Env: env, ArbitraryFlags: [flag.slice(2)] },
    );
    // What OpenRC does: source the file, then eval the arguments (start-stop-daemon.sh, supervise-daemon.sh).
    const shell = spawnSync(
      'sh',
      ['-c', `${result.openrcConf}\neval "set -- $DOCKER_OPTS"\nprintf '%s\\0' "$@" "$HTTP_PROXY" "$NO_PROXY"`],
      { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } },
    );
    assert.equal(shell.status, 0, shell.stderr);
    assert.deepEqual(shell.stdout.split('\0').slice(0, -1), [
      '-H',
      'unix:///var/run/docker.sock',
      '-H',
      'tcp://0.0.0.0:2376',
      flag,
      HOSTILE,
      'localhost,127.0.0.1',
    ]);
  });
});

describe('buildProvisionPlan: install choices', () => {
  const installScript = (family: Family, osText: string, overrides: Partial<ProvisionInput> = {}) =>
    plan({ family, os: parseOsRelease(osText), ...overrides }).steps[0]?.script ?? '';

  it('has an install step and a configure step', () => {
    assert.deepEqual(
      plan().steps.map((step) => step.name),
      ['install-docker', 'configure-docker'],
    );
  });

  it('uses sudo -n unless the SSH user is root', () => {
    assert.match(plan().steps[1]?.script ?? '', /^SUDO='sudo -n'$/m);
    assert.match(plan({ sshUser: 'root' }).steps[1]?.script ?? '', /^SUDO=''$/m);
  });

  it("picks Fedora's moby-engine, else docker-ce from Docker's repository for the EL rebuilds", () => {
    assert.match(installScript('rhel', OS['fedora'] as string), /^REPO_URL=''$/m);
    assert.match(
      installScript('rhel', OS['rocky'] as string),
      /^REPO_URL=https:\/\/download\.docker\.com\/linux\/centos\/docker-ce\.repo$/m,
    );
    assert.match(installScript('rhel', OS['ol'] as string), /linux\/centos\/docker-ce\.repo$/m);
    assert.match(installScript('rhel', OS['rhel'] as string), /linux\/rhel\/docker-ce\.repo$/m);
  });

  it('pins --engine-version where the package manager can', () => {
    assert.match(installScript('debian', OS['debian'] as string, { engineVersion: '24.0.7' }), /^VERSION=24\.0\.7$/m);
    assert.match(installScript('amazon', OS['amzn'] as string, { engineVersion: '25.0' }), /^VERSION=25\.0$/m);
    assert.match(
      installScript('suse', OS['sles'] as string, {
        installMethod: 'script',
        engineVersion: '27.1.1',
        engine: { ...defaultEngineOptions(), InstallURL: 'https://get.docker.com' },
      }),
      /^VERSION=27\.1\.1$/m,
    );
    for (const [family, os] of [
      ['suse', 'sles'],
      ['arch', 'arch'],
      ['alpine', 'alpine'],
    ] as const) {
      assertUsage(
        () => installScript(family, OS[os] as string, { engineVersion: '1.0' }),
        /--engine-version is not supported with distribution packages/,
      );
    }
    assertUsage(() => plan({ engineVersion: '24.0.7; rm -rf /' }), /may contain only/);
    assertUsage(() => plan({ engineVersion: '$(id)' }), /may contain only/);
    assertUsage(() => plan({ installMethod: 'none', engineVersion: '24.0.7' }), /no effect/);
  });

  it('needs an http(s) --engine-install-url for the script method, and only there', () => {
    assertUsage(() => plan({ installMethod: 'script' }), /needs --engine-install-url/);
    assertUsage(
      () => plan({ installMethod: 'script' }, { InstallURL: 'ftp://example.com/x.sh' }),
      /http:\/\/ or https:\/\//,
    );
    assertUsage(() => plan({ installMethod: 'script' }, { InstallURL: 'https://' }), /http:\/\/ or https:\/\//);
    assertUsage(
      () => plan({}, { InstallURL: 'https://get.docker.com' }),
      /used only by --engine-install-method script/,
    );
    const url = "https://example.com/get.sh?a=1&b='$(touch${IFS}/tmp/moor-pwned)'";
    const script = plan({ installMethod: 'script' }, { InstallURL: url }).steps[0]?.script ?? '';
    assert.ok(script.includes(`URL='https://example.com/get.sh?a=1&b='\\''$(touch\${IFS}/tmp/moor-pwned)'\\'''`));
  });

  it('allows an unknown distribution only with the script or none method', () => {
    const unknown = { family: null, os: parseOsRelease('ID=nixos') };
    assert.throws(
      () => plan(unknown),
      (error: unknown) => error instanceof MoorError && error.code === 'UNSUPPORTED_OS',
    );
    const script = plan({ ...unknown, installMethod: 'none' }).steps[0]?.script ?? '';
    assert.match(script, /install method is none/);
    assert.doesNotMatch(script, /apt-get|dnf|zypper|pacman|apk/);
    plan({ ...unknown, installMethod: 'script' }, { InstallURL: 'https://get.docker.com' });
  });
});

describe('buildProvisionPlan: validation', () => {
  it('rejects line breaks and control characters in every value', () => {
    const cases: Partial<EngineOptions>[] = [
      { Labels: ['a=b\nc'] },
      { Labels: ['a=b\rc'] },
      { Env: ['A=b\nc'] },
      { Env: ['A=b\u0000c'] },
      { InsecureRegistry: ['reg\n:5000'] },
      { RegistryMirror: ['https://m\u001b[31m'] },
      { ArbitraryFlags: ['log-level=debug\nExecStartPre=/bin/evil'] },
      { StorageDriver: 'overlay2\n' },
    ];
    for (const engine of cases) assertUsage(() => plan({}, engine), /.+/);
    assertUsage(() => plan({ driverName: 'generic\n' }), /control character/);
    assertUsage(() => plan({ sshUser: 'ubuntu\n' }), /control character/);
    assertUsage(() => plan({ installMethod: 'script' }, { InstallURL: 'https://x.example/\nid' }), /control character/);
  });

  it('rejects malformed labels, options and environment', () => {
    assertUsage(() => plan({}, { Labels: ['novalue'] }), /must be key=value/);
    assertUsage(() => plan({}, { ArbitraryFlags: ['--debug'] }), /must be name=value or name/);
    assertUsage(() => plan({}, { Env: ['1A=b'] }), /must be NAME=value/);
    assertUsage(() => plan({}, { InsecureRegistry: ['has space'] }), /must not be empty or contain spaces/);
  });

  it('checks the port, the name, the method and TLS', () => {
    for (const port of [0, -1, 65536, 1.5, Number.NaN])
      assertUsage(() => plan({ enginePort: port }), /not a port number/);
    assertUsage(() => plan({ machineName: 'bad name' }), /Invalid machine name/);
    // The hostname rule is create's (assertValidNewName): 63 characters.
    assert.equal(plan({ machineName: 'a'.repeat(63) }).steps.length, 2);
    assertUsage(
      () => plan({ machineName: 'a'.repeat(64) }),
      /the limit is 63, as the name becomes the host's hostname/,
    );
    assertUsage(() => plan({ installMethod: 'curl' as never }), /Unknown --engine-install-method "curl"/);
    assertUsage(() => plan({}, { TlsVerify: false }), /without client certificates/);
    assertUsage(() => plan({ fsRoot: 'relative' }), /not absolute/);
  });
});
