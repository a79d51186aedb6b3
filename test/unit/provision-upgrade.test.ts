/**
 * The engine upgrade script (buildUpgradeScript, templates/upgrade-docker.sh.hbs): validation, rendering for
 * every family and install method (sh -n, shellcheck, golden files in test/fixtures/golden/provision-upgrade,
 * regenerated with UPDATE_GOLDEN=1), and runs in a sandbox with stub commands.
 *
 * shellcheck and the golden files go through test/helpers/scripts.ts: shellcheck is required under CI (the
 * test fails there without it: apt-get install shellcheck) and skipped elsewhere when it is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { MoorError, UsageError } from '../../src/core/errors.js';
import { parseOsRelease, UnsupportedOsError, type Family } from '../../src/core/provision/os.js';
import type { InstallMethod } from '../../src/core/provision/plan.js';
import { buildUpgradeScript, type UpgradeInput } from '../../src/core/provision/upgrade.js';
import {
  assertClean,
  HOST_HAS_DOCKERD,
  HOSTILE_URL,
  INSTALLER_STUB,
  MARKER,
  removeSandboxes,
  sandbox,
  SHELLS,
  type Sandbox,
} from '../helpers/provision-sandbox.js';
import { GoldenFiles, shellcheck } from '../helpers/scripts.js';

const golden = new GoldenFiles('provision-upgrade');

const CASES: { name: string; family: Family | null; os: string; pins: boolean }[] = [
  { name: 'debian', family: 'debian', os: 'ID=debian\nVERSION_ID="12"', pins: true },
  { name: 'rocky', family: 'rhel', os: 'ID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"', pins: true },
  { name: 'fedora', family: 'rhel', os: 'ID=fedora\nVERSION_ID=40', pins: true },
  { name: 'amazon', family: 'amazon', os: 'ID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"', pins: true },
  { name: 'suse', family: 'suse', os: 'ID="sles"\nID_LIKE="suse"\nVERSION_ID="15.5"', pins: false },
  { name: 'arch', family: 'arch', os: 'ID=arch', pins: false },
  { name: 'alpine', family: 'alpine', os: 'ID=alpine\nVERSION_ID=3.20.2', pins: false },
  // A distribution moor does not know: only script and none.
  { name: 'unknown', family: null, os: 'ID=nixos\nPRETTY_NAME="NixOS 24.05"', pins: false },
];
const METHODS: InstallMethod[] = ['packages', 'script', 'none'];

/** The commands (or `set --` package lists) that each family's packages script must contain. */
const PACKAGE_COMMANDS: Record<string, string[]> = {
  debian: [
    'apt_get update -q',
    'set -- "docker.io=$VERSION*"',
    'apt_get install -y -q --allow-downgrades "$@"',
    'apt_get install -y -q --only-upgrade "$@"',
  ],
  rocky: ['set -- "docker-ce-$VERSION*" "docker-ce-cli-$VERSION*" containerd.io', '$SUDO "$pm" upgrade -y "$@"'],
  fedora: ['set -- "moby-engine-$VERSION*"', '$SUDO "$pm" upgrade -y "$@"'],
  amazon: ['$SUDO "$pm" install -y "docker-$VERSION*"', '$SUDO "$pm" upgrade -y docker'],
  suse: ['$SUDO zypper --non-interactive update docker'],
  arch: ['$SUDO pacman -Sy --needed --noconfirm docker'],
  alpine: ['$SUDO apk upgrade --no-cache "$@"'],
};

function input(testCase: (typeof CASES)[number], method: InstallMethod, hostile = true): UpgradeInput {
  const version = method === 'none' ? undefined : method === 'script' ? '27.1.1' : testCase.pins ? '24.0.7' : undefined;
  return {
    family: testCase.family,
    os: parseOsRelease(testCase.os),
    sshUser: 'ubuntu',
    installMethod: method,
    ...(version === undefined ? {} : { engineVersion: version }),
    installUrl: method === 'script' ? (hostile ? HOSTILE_URL : 'https://get.docker.com') : '',
  };
}

const work = mkdtempSync(join(tmpdir(), 'moor-upgrade-'));
after(() => {
  rmSync(work, { recursive: true, force: true });
  removeSandboxes();
});
before(() => rmSync(MARKER, { force: true }));

const renderedCases = CASES.flatMap((testCase) =>
  METHODS.filter((method) => testCase.family !== null || method !== 'packages').map(
    (method) => [testCase, method] as const,
  ),
);

describe('upgrade-docker.sh rendered for every family and install method, with hostile values', () => {
  for (const [testCase, method] of renderedCases) {
    const name = `${testCase.name}.${method}.upgrade-docker.sh`;
    it(`${name}: sh -n, shellcheck, golden`, (t) => {
      const script = buildUpgradeScript(input(testCase, method));
      const file = join(work, name);
      writeFileSync(file, script);
      const syntax = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
      assert.equal(syntax.status, 0, syntax.stderr);
      assert.match(script, /^#!\/bin\/sh\n/);
      assert.match(script, /^set -eu$/m);
      assert.equal(script.includes('| sh'), false, 'nothing is piped into a shell');
      if (method === 'none') {
        assert.match(script, /^fail "Docker was installed outside moor \(--engine-install-method none\)/m);
        assert.equal(script.includes('systemctl'), false);
      } else {
        assert.match(script, /^finish$/m);
        assert.match(script, /^before=\$\("\$old_dockerd" --version\)/m);
      }
      if (method === 'packages') {
        for (const command of PACKAGE_COMMANDS[testCase.name] ?? ['(no expectation)']) {
          assert.ok(script.includes(command), `${command} in ${name}`);
        }
      }
      if (method === 'script') {
        // The URL's assignment, run alone, gives back the URL exactly, and runs nothing.
        const line = script.split('\n').find((candidate) => candidate.startsWith('URL=')) ?? '';
        const shell = spawnSync('sh', ['-c', `set -eu\n${line}\nprintf '%s' "$URL"`], { encoding: 'utf8' });
        assert.equal(shell.stdout, HOSTILE_URL, shell.stderr);
        assert.equal(existsSync(MARKER), false);
      }
      golden.compare(name, script);
      if (!shellcheck(t, file, true)) return;
      const plain = join(work, `plain.${name}`);
      writeFileSync(plain, buildUpgradeScript(input(testCase, method, false)));
      shellcheck(t, plain, false);
    });
  }

  it('picks docker-ce on Enterprise Linux (by ID or ID_LIKE) and moby-engine on Fedora', () => {
    const rhel = (os: string) =>
      buildUpgradeScript({
        family: 'rhel',
        os: parseOsRelease(os),
        sshUser: 'root',
        installMethod: 'packages',
        installUrl: '',
      });
    for (const os of ['ID=rhel', 'ID=centos', 'ID=almalinux', 'ID=ol', 'ID=eurolinux\nID_LIKE="rhel fedora"']) {
      assert.match(rhel(os), /set -- docker-ce docker-ce-cli containerd\.io/, os);
    }
    assert.match(rhel('ID=fedora'), /set -- moby-engine;/);
    assert.doesNotMatch(rhel('ID=fedora'), /set -- docker-ce/);
  });

  it('runs privileged commands through sudo -n, except as root', () => {
    const testCase = CASES[0] as (typeof CASES)[number];
    assert.match(buildUpgradeScript(input(testCase, 'packages')), /^SUDO='sudo -n'$/m);
    assert.match(buildUpgradeScript({ ...input(testCase, 'packages'), sshUser: 'root' }), /^SUDO=''$/m);
  });

  it('has no golden file that no test renders', () => {
    const expected = renderedCases.map(([testCase, method]) => `${testCase.name}.${method}.upgrade-docker.sh`);
    assert.deepEqual(golden.stale(expected), []);
  });
});

describe('buildUpgradeScript validation', () => {
  const base: UpgradeInput = {
    family: 'debian',
    os: parseOsRelease('ID=debian'),
    sshUser: 'ubuntu',
    installMethod: 'packages',
    installUrl: '',
  };
  const rejects = (
    overrides: Partial<UpgradeInput>,
    message: RegExp,
    type: new (...args: never[]) => MoorError = UsageError,
  ) =>
    assert.throws(
      () => buildUpgradeScript({ ...base, ...overrides }),
      (error: unknown) => {
        assert.ok(error instanceof type, String(error));
        assert.match((error as Error).message, message);
        return true;
      },
    );

  it('rejects unknown methods and families, and distribution packages on an unknown distribution', () => {
    rejects(
      { installMethod: 'brew' as InstallMethod },
      /Unknown --engine-install-method "brew": use packages, script, none/,
    );
    rejects({ family: 'gentoo' as Family }, /Unknown OS family "gentoo"/);
    rejects(
      { family: null, os: parseOsRelease('ID=nixos\nPRETTY_NAME="NixOS"') },
      /moor cannot install Docker on NixOS/,
      UnsupportedOsError,
    );
  });

  it('rejects an empty SSH user, control characters and a relative root', () => {
    rejects({ sshUser: '' }, /The SSH user is empty/);
    rejects({ sshUser: 'ubuntu\nrm -rf /' }, /SSH user .* contains a line break/);
    rejects({ fsRoot: 'relative/root' }, /Root folder "relative\/root" is not absolute/);
    rejects({ fsRoot: '/tmp/a\rb' }, /Root folder .* control character/);
  });

  it('needs an http(s) install URL for the script method, and none for the others', () => {
    rejects({ installMethod: 'script' }, /--engine-install-method script needs --engine-install-url URL/);
    rejects(
      { installMethod: 'script', installUrl: 'ftp://example.com/get.sh' },
      /must be an http:\/\/ or https:\/\/ URL/,
    );
    rejects({ installMethod: 'script', installUrl: 'https://example.com/a b' }, /must be an http/);
    rejects({ installMethod: 'script', installUrl: 'https://example.com/\n' }, /control character/);
    rejects(
      { installUrl: 'https://get.docker.com' },
      /used only by --engine-install-method script \(the method is packages\)/,
    );
    rejects({ installMethod: 'none', installUrl: 'https://get.docker.com' }, /the method is none/);
  });

  it('checks --engine-version: its characters, the method, and whether the package manager can pin', () => {
    rejects({ engineVersion: '24.0.7; reboot' }, /--engine-version "24\.0\.7; reboot" may contain only/);
    rejects({ engineVersion: '$(id)' }, /may contain only/);
    rejects({ installMethod: 'none', engineVersion: '24.0.7' }, /no effect with --engine-install-method none/);
    for (const [family, id] of [
      ['suse', 'sles'],
      ['arch', 'arch'],
      ['alpine', 'alpine'],
    ] as const) {
      rejects(
        { family, os: parseOsRelease(`ID=${id}`), engineVersion: '24.0.7' },
        new RegExp(`not supported with distribution packages on ${id}`),
      );
    }
    // A script takes VERSION on any distribution, even one moor does not know.
    const script = buildUpgradeScript({
      ...base,
      family: null,
      os: parseOsRelease('ID=nixos'),
      installMethod: 'script',
      installUrl: 'https://get.docker.com',
      engineVersion: '27.1.1',
    });
    assert.match(script, /^VERSION=27\.1\.1$/m);
    assert.match(script, /^URL=https:\/\/get\.docker\.com$/m);
  });

  it('renders the version unpinned when it is empty', () => {
    assert.match(buildUpgradeScript({ ...base, engineVersion: '' }), /^VERSION=''$/m);
    assert.match(
      buildUpgradeScript({ ...base, engineVersion: '5:24.0.7-1~ubuntu.22.04~jammy' }),
      /^VERSION='5:24\.0\.7-1~ubuntu\.22\.04~jammy'$/m,
    );
  });
});

describe('upgrade-docker.sh in a sandbox', () => {
  const skip = HOST_HAS_DOCKERD ? 'this host has dockerd installed' : false;

  function upgradeScript(box: Sandbox, overrides: Partial<UpgradeInput> = {}): string {
    return buildUpgradeScript({
      family: 'debian',
      os: parseOsRelease('ID=debian'),
      sshUser: 'ubuntu',
      installMethod: 'packages',
      installUrl: '',
      fsRoot: box.root,
      ...overrides,
    });
  }

  /** A systemd host with Docker 24.0.7 running, and the docker.socket unit Debian's docker.io has. */
  function debianHost(): Sandbox {
    const box = sandbox({ dockerd: true, systemd: true, engineVersion: '24.0.7' });
    mkdirSync(join(box.root, 'lib/systemd/system'), { recursive: true });
    writeFileSync(join(box.root, 'lib/systemd/system/docker.socket'), '[Socket]\n');
    box.touch('active');
    return box;
  }

  const unprivileged = (calls: string[]) => calls.filter((call) => !call.startsWith('sudo '));

  for (const shell of SHELLS) {
    it(
      `debian: upgrades only docker.io and docker-cli, restarts on the new version (${shell.join(' ')})`,
      { skip },
      () => {
        const box = debianHost();
        box.touch('has-docker-cli');
        box.touch('next-version', '25.0.3\n');
        const result = box.run(upgradeScript(box), shell);
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.lastLine, 'moor: changed=1');
        assert.match(result.stdout, /^moor: engine before: Docker version 24\.0\.7, build 0123abc$/m);
        assert.match(result.stdout, /^moor: engine after: Docker version 25\.0\.3, build 0123abc$/m);
        assert.match(result.stdout, /^moor: restarting docker\.socket docker\.service$/m);
        const calls = box.calls();
        assert.deepEqual(
          unprivileged(calls).filter((call) => !call.startsWith('dockerd --version')),
          [
            'apt-get DEBIAN_FRONTEND=noninteractive update -q',
            'dpkg -s docker-cli',
            'apt-get DEBIAN_FRONTEND=noninteractive install -y -q --only-upgrade docker.io docker-cli',
            'systemctl daemon-reload',
            'systemctl restart docker.socket docker.service',
          ],
        );
        // Every privileged command went through sudo -n.
        for (const command of ['apt-get', 'systemctl']) {
          const direct = calls.filter((call) => call.startsWith(`${command} `)).length;
          assert.equal(
            calls.filter(
              (call) =>
                call.startsWith(`sudo -n env DEBIAN_FRONTEND=noninteractive ${command} `) ||
                call.startsWith(`sudo -n ${command} `),
            ).length,
            direct,
            command,
          );
        }
        assertClean(box);
      },
    );
  }

  it('debian: nothing newer, so no restart and changed=0', { skip }, () => {
    const box = debianHost();
    const result = box.run(upgradeScript(box));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.lastLine, 'moor: changed=0');
    assert.match(result.stdout, /engine before: Docker version 24\.0\.7/);
    assert.match(result.stdout, /engine after: Docker version 24\.0\.7/);
    assert.match(result.stdout, /the engine version did not change: not restarted/);
    const calls = unprivileged(box.calls());
    assert.ok(
      calls.includes('apt-get DEBIAN_FRONTEND=noninteractive install -y -q --only-upgrade docker.io'),
      calls.join('\n'),
    );
    assert.deepEqual(
      calls.filter((call) => /^(systemctl|rc-service) /.test(call)),
      [],
    );
    assertClean(box);
  });

  it('debian: a pinned version, older than the installed one, after waiting for the dpkg lock', { skip }, () => {
    const box = debianHost();
    box.touch('has-docker-cli');
    box.touch('apt-locked', '1');
    box.touch('next-version', '23.0.1\n');
    const result = box.run(upgradeScript(box, { engineVersion: '23.0.1' }));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.lastLine, 'moor: changed=1');
    assert.match(result.stdout, /apt is busy .* attempt 1 of 60/);
    assert.match(result.stdout, /engine after: Docker version 23\.0\.1/);
    const calls = unprivileged(box.calls()).filter((call) => !call.startsWith('dockerd --version'));
    assert.deepEqual(calls, [
      'apt-get DEBIAN_FRONTEND=noninteractive update -q',
      'sleep 5',
      'apt-get DEBIAN_FRONTEND=noninteractive update -q',
      'dpkg -s docker-cli',
      'apt-get DEBIAN_FRONTEND=noninteractive install -y -q --allow-downgrades docker.io=23.0.1* docker-cli=23.0.1*',
      'systemctl daemon-reload',
      'systemctl restart docker.socket docker.service',
    ]);
    assertClean(box);
  });

  it('debian: reports the package manager error and restarts nothing', { skip }, () => {
    const box = debianHost();
    box.touch('apt-broken');
    const result = box.run(upgradeScript(box));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /E: Unable to locate package docker\.io/);
    assert.match(result.stderr, /moor: error: could not upgrade docker\.io$/m);
    assert.equal(
      box.calls().some((call) => call.startsWith('systemctl ')),
      false,
    );
    assertClean(box);
  });

  it('script: downloads the install URL again and runs it with VERSION, as root', { skip }, () => {
    const box = sandbox({ dockerd: true, systemd: true, engineVersion: '26.1.4' });
    box.touch('download', INSTALLER_STUB);
    box.touch('next-version', '27.1.1\n');
    const script = upgradeScript(box, {
      installMethod: 'script',
      installUrl: HOSTILE_URL,
      engineVersion: '27.1.1',
      os: parseOsRelease('ID=nixos'),
      family: null,
    });
    const result = box.run(script);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.lastLine, 'moor: changed=1');
    assert.match(
      result.stdout,
      /engine before: Docker version 26\.1\.4.*\n(.*\n)*moor: engine after: Docker version 27\.1\.1/,
    );
    const calls = box.calls();
    assert.ok(
      calls.some((call) => call.startsWith('curl -fsSL --retry 3 -o ') && call.endsWith(` ${HOSTILE_URL}`)),
      calls.join('\n'),
    );
    assert.ok(
      calls.some((call) => /^sudo -n env VERSION=27\.1\.1 sh \S+$/.test(call)),
      calls.join('\n'),
    );
    assert.ok(calls.includes('installer VERSION=27.1.1'));
    // No docker.socket unit here: only the service is restarted.
    assert.ok(calls.includes('systemctl restart docker.service'), calls.join('\n'));
    assert.equal(
      calls.some((call) => /^(apt-get|dnf|yum|zypper|pacman|apk) /.test(call)),
      false,
    );
    assertClean(box);
  });

  it('script without a version: runs the script without VERSION', { skip }, () => {
    const box = sandbox({ dockerd: true, systemd: true });
    box.touch('download', INSTALLER_STUB);
    const result = box.run(upgradeScript(box, { installMethod: 'script', installUrl: 'https://get.docker.com' }));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.lastLine, 'moor: changed=0');
    const calls = box.calls();
    assert.ok(calls.includes('installer VERSION='), calls.join('\n'));
    assert.ok(calls.some((call) => /^sudo -n sh \S+$/.test(call)));
    assertClean(box);
  });

  it('none: fails with a clear message and touches nothing', { skip }, () => {
    const box = debianHost();
    const result = box.run(upgradeScript(box, { installMethod: 'none' }));
    assert.equal(result.status, 1);
    assert.equal(
      result.stderr,
      'moor: error: Docker was installed outside moor (--engine-install-method none): upgrade it yourself\n',
    );
    assert.equal(result.stdout, '');
    assert.deepEqual(
      box.calls().filter((call) => !call.startsWith('sudo -n true')),
      [],
    );
    assertClean(box);
  });

  it('fails when Docker is not installed', { skip }, () => {
    const box = sandbox({ systemd: true });
    const result = box.run(upgradeScript(box));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /moor: error: Docker is not installed on this host: nothing to upgrade/);
    assert.equal(
      box.calls().some((call) => call.startsWith('apt-get')),
      false,
    );
  });

  it('shows the engine log and fails when the restart fails', { skip }, () => {
    const box = debianHost();
    box.touch('next-version', '25.0.3\n');
    box.touch('fail-restart');
    const result = box.run(upgradeScript(box));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /failed to start daemon: fake/);
    assert.match(result.stderr, /moor: error: docker did not start on the new version/);
  });

  it('rocky: dnf upgrades docker-ce, its client and containerd.io; pinned, it installs that version', { skip }, () => {
    const os = parseOsRelease('ID="rocky"\nID_LIKE="rhel centos fedora"');
    const box = sandbox({ dockerd: true, systemd: true });
    box.touch('next-version', '26.0.0\n');
    const upgraded = box.run(upgradeScript(box, { family: 'rhel', os }));
    assert.equal(upgraded.lastLine, 'moor: changed=1', upgraded.stderr);
    const pinned = box.run(upgradeScript(box, { family: 'rhel', os, engineVersion: '26.0.0' }));
    assert.equal(pinned.lastLine, 'moor: changed=0', pinned.stderr);
    assert.deepEqual(
      box.calls().filter((call) => call.startsWith('dnf ') || call.startsWith('systemctl ')),
      [
        'dnf upgrade -y docker-ce docker-ce-cli containerd.io',
        'systemctl daemon-reload',
        'systemctl restart docker.service',
        'dnf install -y docker-ce-26.0.0* docker-ce-cli-26.0.0* containerd.io',
      ],
    );
  });

  it('fedora, amazon, suse and arch: only the Docker package', { skip }, () => {
    const expected: [Family, string, string[], string?][] = [
      ['rhel', 'ID=fedora', ['dnf install -y moby-engine-25.0*'], '25.0'],
      ['amazon', 'ID="amzn"\nVERSION_ID="2023"', ['dnf upgrade -y docker']],
      ['suse', 'ID="sles"', ['zypper --non-interactive update docker']],
      ['arch', 'ID=arch', ['pacman -Sy --needed --noconfirm docker']],
    ];
    for (const [family, os, calls, engineVersion] of expected) {
      const box = sandbox({ dockerd: true, systemd: true });
      box.touch('next-version', '25.0.5\n');
      const result = box.run(
        upgradeScript(box, {
          family,
          os: parseOsRelease(os),
          sshUser: 'root',
          ...(engineVersion === undefined ? {} : { engineVersion }),
        }),
      );
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.lastLine, 'moor: changed=1');
      assert.deepEqual(
        box.calls().filter((call) => !call.startsWith('dockerd --version')),
        [...calls, 'systemctl daemon-reload', 'systemctl restart docker.service'],
        family,
      );
    }
  });

  it(
    'alpine: apk upgrades docker with its installed engine and client packages, then OpenRC restarts it',
    { skip },
    () => {
      const box = sandbox({ dockerd: true, omit: ['systemctl'] });
      box.touch('apk-has-docker-engine');
      box.touch('next-version', '26.1.5\n');
      const result = box.run(
        upgradeScript(box, { family: 'alpine', os: parseOsRelease('ID=alpine'), sshUser: 'root' }),
      );
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.lastLine, 'moor: changed=1');
      assert.deepEqual(
        box.calls().filter((call) => !call.startsWith('dockerd --version')),
        [
          'apk info -e docker-engine',
          'apk info -e docker-cli',
          'apk upgrade --no-cache docker docker-engine',
          'rc-service docker restart',
        ],
      );
      assertClean(box);
    },
  );
});
