/**
 * Runs the rendered provisioning scripts for real, in a sandbox: every path they write is under a
 * temporary root (the plan's fsRoot), and the commands that would touch the host (sudo, hostname,
 * systemctl, rc-service, package managers, curl, dockerd…) are stubs that log their arguments.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { defaultEngineOptions, type EngineOptions } from '../../src/core/machine.js';
import { parseOsRelease, type Family } from '../../src/core/provision/os.js';
import {
  buildFirstBootScript,
  buildProvisionPlan,
  type ProvisionInput,
  type ProvisionPlan,
} from '../../src/core/provision/plan.js';
import {
  assertClean,
  HOST_HAS_DOCKERD,
  HOSTILE,
  MARKER,
  onHost,
  removeSandboxes,
  sandbox,
  SHELLS,
  type Sandbox,
} from '../helpers/provision-sandbox.js';

const HOSTILE_ENGINE: EngineOptions = {
  ...defaultEngineOptions(),
  Labels: [`evil=${HOSTILE}`],
  Env: [`HTTP_PROXY=${HOSTILE}`],
  InsecureRegistry: [`reg.local:5000/'$(touch\${IFS}${MARKER})\`id\`;x`],
  ArbitraryFlags: ['debug', `log-opt=tag=${HOSTILE}`, `weird-flag=${HOSTILE}`],
};

after(removeSandboxes);
before(() => rmSync(MARKER, { force: true }));

function makePlan(box: Sandbox, overrides: Partial<ProvisionInput> = {}): ProvisionPlan {
  return buildProvisionPlan({
    machineName: 'web1',
    family: 'debian',
    os: parseOsRelease('ID=debian'),
    sshUser: 'ubuntu',
    engine: HOSTILE_ENGINE,
    enginePort: 2376,
    installMethod: 'packages',
    driverName: 'generic',
    fsRoot: box.root,
    ...overrides,
  });
}

const configureScript = (plan: ProvisionPlan): string => plan.steps[1]?.script ?? '';
const installScript = (plan: ProvisionPlan): string => plan.steps[0]?.script ?? '';

describe('configure-docker.sh in a sandbox (systemd)', () => {
  for (const shell of SHELLS) {
    it(`writes the files, restarts once, and changes nothing the second time (${shell.join(' ')})`, () => {
      const box = sandbox({ dockerd: true, systemd: true });
      writeFileSync(join(box.root, 'etc/hosts'), '127.0.0.1 localhost\n127.0.1.1 old-name\n::1 localhost\n');
      mkdirSync(join(box.root, 'lib/systemd/system'), { recursive: true });
      writeFileSync(join(box.root, 'lib/systemd/system/docker.socket'), '[Socket]\n');
      const plan = makePlan(box);

      const first = box.run(configureScript(plan), shell);
      assert.equal(first.status, 0, first.stderr);
      assert.equal(first.lastLine, 'moor: changed=1');
      assert.equal(box.read('etc/docker/daemon.json'), `${plan.daemonJson}\n`);
      const json = JSON.parse(box.read('etc/docker/daemon.json')) as { labels: string[]; 'log-opts': { tag: string } };
      assert.deepEqual(json.labels, [`evil=${HOSTILE}`, 'provider=generic']);
      assert.equal(json['log-opts'].tag, HOSTILE);
      const dropIn = plan.dropIn.replace('@DOCKERD@', join(box.bin, 'dockerd')).replace('@LOCAL_HOST@', 'fd://');
      assert.equal(box.read('etc/systemd/system/docker.service.d/10-moor.conf'), `${dropIn}\n`);
      assert.match(
        dropIn,
        new RegExp(`^ExecStart=${box.bin}/dockerd -H fd:// -H tcp://0\\.0\\.0\\.0:2376 "--weird-flag=`, 'm'),
      );
      assert.equal(box.read('etc/hostname'), 'web1\n');
      assert.equal(box.read('etc/hosts'), '127.0.0.1 localhost\n127.0.1.1 web1 old-name\n::1 localhost\n');
      assert.equal(statSync(join(box.root, 'etc/docker/daemon.json')).mode & 0o777, 0o644);
      assert.equal(readFileSync(join(box.dir, 'hostname'), 'utf8'), 'web1\n');
      const calls = box.calls();
      for (const expected of [
        'sudo -n hostname web1',
        'systemctl daemon-reload',
        'systemctl restart docker.socket docker.service',
        'systemctl enable docker.service',
      ]) {
        assert.ok(calls.includes(expected), `${expected} in\n${calls.join('\n')}`);
      }
      assert.ok(calls.some((call) => call.startsWith('dockerd --validate --config-file ')));
      const privileged = calls.filter((call) => /^(systemctl|hostname) /.test(call)).length;
      assert.equal(calls.filter((call) => /^sudo -n (systemctl|hostname) /.test(call)).length, privileged);
      assert.equal(
        readdirSync(join(box.root, 'etc/docker')).some((file) => file.endsWith('.moor-new')),
        false,
      );
      assertClean(box);

      const second = box.run(configureScript(plan), shell);
      assert.equal(second.status, 0, second.stderr);
      assert.equal(second.lastLine, 'moor: changed=0');
      assert.match(second.stdout, /unchanged: .*daemon\.json/);
      assert.match(second.stdout, /not restarted/);
      const again = box.calls();
      assert.deepEqual(
        again.filter((call) => /^(systemctl (restart|daemon-reload|enable)|hostname)/.test(call)),
        [],
      );
      assertClean(box);
    });
  }

  it('starts a stopped engine when nothing changed (a start, not a restart), and resets a failed one first', () => {
    const box = sandbox({ dockerd: true, systemd: true });
    const plan = makePlan(box);
    assert.equal(box.run(configureScript(plan)).lastLine, 'moor: changed=1');
    box.calls();
    box.remove('active');
    const result = box.run(configureScript(plan));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.lastLine, 'moor: changed=1');
    assert.match(result.stdout, /^moor: starting docker\.service$/m);
    let calls = box.calls();
    assert.ok(calls.includes('sudo -n systemctl start docker.service'), calls.join('\n'));
    assert.deepEqual(
      calls.filter((call) => /systemctl (restart|daemon-reload|reset-failed)|is-system-running/.test(call)),
      [],
    );

    box.remove('active');
    box.touch('state', 'failed\n');
    assert.equal(box.run(configureScript(plan)).lastLine, 'moor: changed=1');
    calls = box.calls();
    assert.ok(calls.indexOf('sudo -n systemctl reset-failed docker.service') >= 0, calls.join('\n'));
    assert.ok(
      calls.indexOf('sudo -n systemctl reset-failed docker.service') <
        calls.indexOf('sudo -n systemctl start docker.service'),
    );
  });

  it('waits for a start the boot has begun, with this configuration, and calls it no change (nor a restart)', () => {
    const box = sandbox({ dockerd: true, systemd: true });
    mkdirSync(join(box.root, 'lib/systemd/system'), { recursive: true });
    writeFileSync(join(box.root, 'lib/systemd/system/docker.socket'), '[Socket]\n');
    const plan = makePlan(box);
    assert.equal(box.run(configureScript(plan)).lastLine, 'moor: changed=1');
    box.calls();
    box.remove('active');
    box.touch('state', 'activating\n');
    const result = box.run(configureScript(plan));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.lastLine, 'moor: changed=0');
    assert.match(result.stdout, /^moor: docker is starting with this configuration: waiting for it$/m);
    assert.doesNotMatch(result.stdout, /^moor: (re)?starting /m);
    const calls = box.calls();
    assert.ok(calls.includes('sudo -n systemctl start docker.socket docker.service'), calls.join('\n'));
    assert.deepEqual(
      calls.filter((call) => /systemctl (restart|stop|daemon-reload)/.test(call)),
      [],
    );
  });

  it('shows the engine log and fails when the start fails', () => {
    const box = sandbox({ dockerd: true, systemd: true });
    const plan = makePlan(box);
    assert.equal(box.run(configureScript(plan)).status, 0);
    box.remove('active');
    box.touch('fail-restart');
    const result = box.run(configureScript(plan));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /failed to start daemon: fake/);
    assert.match(result.stderr, /moor: error: docker did not start \(its last log lines/);
  });

  it('rewrites daemon.json and restarts when an option changes; without docker.socket it uses the unix socket', () => {
    const box = sandbox({ dockerd: true, systemd: true });
    assert.equal(box.run(configureScript(makePlan(box))).status, 0);
    assert.match(
      box.read('etc/systemd/system/docker.service.d/10-moor.conf'),
      / -H unix:\/\/\/var\/run\/docker\.sock /,
    );
    box.calls();
    const changed = makePlan(box, { engine: { ...HOSTILE_ENGINE, Labels: ['env=staging'] } });
    const result = box.run(configureScript(changed));
    assert.equal(result.lastLine, 'moor: changed=1');
    assert.match(result.stdout, /unchanged: .*10-moor\.conf/);
    assert.deepEqual((JSON.parse(box.read('etc/docker/daemon.json')) as { labels: string[] }).labels, [
      'env=staging',
      'provider=generic',
    ]);
    assert.ok(box.calls().includes('systemctl restart docker.service'));
  });

  it('stops before writing when dockerd rejects the configuration', () => {
    const box = sandbox({ dockerd: true, systemd: true });
    const plan = makePlan(box);
    assert.equal(box.run(configureScript(plan)).status, 0);
    box.touch('invalid');
    const result = box.run(configureScript(makePlan(box, { engine: { ...HOSTILE_ENGINE, Labels: ['x=y'] } })));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /moor: error: dockerd rejects the configuration: unable to configure .*fake problem/);
    assert.equal(box.read('etc/docker/daemon.json'), `${plan.daemonJson}\n`);
    assertClean(box);
  });

  it('shows the engine log and fails when the restart fails', () => {
    const box = sandbox({ dockerd: true, systemd: true });
    box.touch('fail-restart');
    const result = box.run(configureScript(makePlan(box)));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /failed to start daemon: fake/);
    assert.match(result.stderr, /moor: error: docker did not start with the new configuration/);
  });

  it('fails clearly when sudo needs a password, or Docker is missing', () => {
    const box = sandbox({ dockerd: true, systemd: true });
    box.touch('deny-sudo');
    const denied = box.run(configureScript(makePlan(box)));
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /moor: error: user .* cannot run sudo without a password/);
    assert.equal(existsSync(join(box.root, 'etc/docker')), false);
  });
});

describe('configure-docker.sh in a sandbox (OpenRC, as root)', () => {
  it('writes /etc/conf.d/docker, starts the service and adds it to the default runlevel, once', () => {
    const box = sandbox({ dockerd: true, omit: ['systemctl'] });
    const plan = makePlan(box, { family: 'alpine', os: parseOsRelease('ID=alpine'), sshUser: 'root' });
    const first = box.run(configureScript(plan));
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.lastLine, 'moor: changed=1');
    assert.equal(box.read('etc/conf.d/docker'), `${plan.openrcConf}\n`);
    assert.equal(box.read('etc/docker/daemon.json'), `${plan.daemonJson}\n`);
    assert.equal(box.read('etc/hosts'), '127.0.1.1 web1\n');
    const calls = box.calls();
    assert.ok(calls.includes('rc-service docker start'), calls.join('\n'));
    assert.ok(calls.includes('rc-update add docker default'));
    assert.equal(
      calls.some((call) => call.startsWith('sudo')),
      false,
      'root needs no sudo',
    );
    assertClean(box);

    const second = box.run(configureScript(plan));
    assert.equal(second.lastLine, 'moor: changed=0');
    assert.deepEqual(
      box.calls().filter((call) => /^rc-(service docker (start|restart)|update add)/.test(call)),
      [],
    );
  });
});

describe('configure-docker.sh at the first boot (cloud-init, as root, before the engine starts)', () => {
  const firstBoot = (box: Sandbox, engine: EngineOptions = HOSTILE_ENGINE) =>
    buildFirstBootScript({ machineName: 'web1', engine, enginePort: 2376, driverName: 'generic', fsRoot: box.root });

  it("writes what provisioning writes and only reloads systemd; provisioning then waits for the boot's start", () => {
    const box = sandbox({ dockerd: true, systemd: true });
    mkdirSync(join(box.root, 'lib/systemd/system'), { recursive: true });
    writeFileSync(join(box.root, 'lib/systemd/system/docker.socket'), '[Socket]\n');
    writeFileSync(join(box.root, 'etc/hosts'), '127.0.0.1 localhost\n');
    const boot = box.run(firstBoot(box));
    assert.equal(boot.status, 0, boot.stderr);
    assert.equal(boot.lastLine, 'moor: changed=1');
    let calls = box.calls();
    assert.ok(calls.includes('systemctl daemon-reload'), calls.join('\n'));
    assert.equal(
      calls.some((call) => call.startsWith('dockerd')),
      false,
      'dockerd is not run',
    );
    assert.deepEqual(
      calls.filter((call) => /^(sudo|hostname|systemctl (start|restart|stop|enable))/.test(call)),
      [],
      'as root, and nothing started, restarted or renamed',
    );
    assert.equal(box.read('etc/hosts'), '127.0.0.1 localhost\n', "the hostname is cloud-init's");
    assertClean(box);

    // The boot starts docker with those files; provisioning finds them in place.
    box.touch('state', 'activating\n');
    const plan = makePlan(box);
    const provisioned = box.run(configureScript(plan));
    assert.equal(provisioned.status, 0, provisioned.stderr);
    assert.match(provisioned.stdout, /unchanged: .*daemon\.json/);
    assert.match(provisioned.stdout, /unchanged: .*10-moor\.conf/);
    assert.match(provisioned.stdout, /docker is starting with this configuration: waiting for it/);
    calls = box.calls();
    assert.deepEqual(
      calls.filter((call) => /systemctl (restart|stop|daemon-reload)/.test(call)),
      [],
      calls.join('\n'),
    );
    assert.equal(box.read('etc/docker/daemon.json'), `${plan.daemonJson}\n`);
  });

  it('leaves an engine that has started already to provisioning, and writes nothing', () => {
    for (const state of ['active', 'activating']) {
      const box = sandbox({ dockerd: true, systemd: true });
      box.touch('state', `${state}\n`);
      const boot = box.run(firstBoot(box));
      assert.equal(boot.status, 0, boot.stderr);
      assert.match(boot.stdout, new RegExp(`^moor: docker is ${state} already: provisioning configures it$`, 'm'));
      assert.equal(boot.lastLine, 'moor: changed=0');
      assert.equal(existsSync(join(box.root, 'etc/docker')), false);
      assert.equal(existsSync(join(box.root, 'etc/systemd')), false);
      assertClean(box);
    }
  });

  it(
    'does nothing where Docker is not installed yet',
    { skip: HOST_HAS_DOCKERD ? 'this host has dockerd' : false },
    () => {
      const box = sandbox({ systemd: true });
      const boot = box.run(firstBoot(box));
      assert.equal(boot.status, 0, boot.stderr);
      assert.match(boot.stdout, /Docker is not installed: provisioning installs and configures it/);
      assert.equal(existsSync(join(box.root, 'etc/docker')), false);
      assert.deepEqual(box.calls(), []);
    },
  );

  it('never runs dockerd (seconds per start under emulation); a file dockerd refuses fails the start provisioning waits for', () => {
    const box = sandbox({ dockerd: true, systemd: true });
    box.touch('invalid');
    const boot = box.run(firstBoot(box));
    assert.equal(boot.status, 0, boot.stderr);
    const calls = box.calls();
    assert.deepEqual(
      calls.filter((call) => call.startsWith('dockerd')),
      [],
      calls.join('\n'),
    );
    // The boot's start of dockerd fails; provisioning finds the files in place, starts it, and shows why it failed.
    box.touch('state', 'failed\n');
    box.touch('fail-restart');
    const provisioned = box.run(configureScript(makePlan(box)));
    assert.equal(provisioned.status, 1);
    assert.match(provisioned.stderr, /failed to start daemon: fake/);
    assert.match(provisioned.stderr, /moor: error: docker did not start/);
    assert.deepEqual(
      box.calls().filter((call) => call.startsWith('dockerd')),
      [],
      'an unchanged daemon.json is not checked again',
    );
  });

  it('OpenRC: writes /etc/conf.d/docker and leaves starting docker to the runlevel', () => {
    const box = sandbox({ dockerd: true, omit: ['systemctl'] });
    const boot = box.run(firstBoot(box));
    assert.equal(boot.status, 0, boot.stderr);
    const plan = makePlan(box, { family: 'alpine', os: parseOsRelease('ID=alpine'), sshUser: 'root' });
    assert.equal(box.read('etc/conf.d/docker'), `${plan.openrcConf}\n`);
    const calls = box.calls();
    assert.deepEqual(
      calls.filter((call) => /^rc-(service docker (start|restart)|update)/.test(call)),
      [],
      calls.join('\n'),
    );
  });

  it('checks its input as provisioning does', () => {
    assert.throws(
      () =>
        buildFirstBootScript({ machineName: 'bad name', engine: HOSTILE_ENGINE, enginePort: 2376, driverName: 'qemu' }),
      /name/i,
    );
    assert.throws(
      () =>
        buildFirstBootScript({
          machineName: 'ok',
          engine: HOSTILE_ENGINE,
          enginePort: 2376,
          driverName: 'qemu',
          fsRoot: 'relative',
        }),
      /not absolute/,
    );
  });
});

describe('install-docker.sh in a sandbox', () => {
  const skip = HOST_HAS_DOCKERD ? 'this host has dockerd installed' : false;

  function install(
    family: Family,
    os: string,
    overrides: Partial<ProvisionInput> = {},
    options: { omit?: string[]; dockerd?: boolean } = {},
  ) {
    const box = sandbox(options);
    const plan = makePlan(box, { family, os: parseOsRelease(os), ...overrides });
    const result = box.run(installScript(plan));
    return { box, result, calls: box.calls() };
  }

  it('does nothing, not even a package index update, when Docker is there', () => {
    const { result, calls } = install('debian', 'ID=debian', {}, { dockerd: true });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /Docker is already installed/);
    assert.equal(result.lastLine, 'moor: changed=0');
    assert.deepEqual(
      calls.filter((call) => !call.startsWith('sudo -n true')),
      [],
    );
  });

  it('apt: waits for the dpkg lock, then installs the pinned docker.io and docker-cli', { skip }, () => {
    const box = sandbox();
    box.touch('apt-locked', '2');
    box.touch('has-docker-cli');
    const result = box.run(installScript(makePlan(box, { engineVersion: '24.0.7' })));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.lastLine, 'moor: changed=1');
    assert.match(result.stdout, /apt is busy .* attempt 1 of 60/);
    const calls = box.calls().filter((call) => !call.startsWith('sudo'));
    assert.deepEqual(calls, [
      'apt-get DEBIAN_FRONTEND=noninteractive update -q',
      'sleep 5',
      'apt-get DEBIAN_FRONTEND=noninteractive update -q',
      'sleep 5',
      'apt-get DEBIAN_FRONTEND=noninteractive update -q',
      'apt-cache show docker-cli',
      'apt-get DEBIAN_FRONTEND=noninteractive install -y -q docker.io=24.0.7* docker-cli=24.0.7*',
    ]);
    assertClean(box);
  });

  it('apt: reports the package manager error', { skip }, () => {
    const box = sandbox();
    box.touch('apt-broken');
    const result = box.run(installScript(makePlan(box)));
    assert.equal(result.status, 1);
    assert.match(result.stderr, /E: Unable to locate package docker\.io/);
    assert.match(result.stderr, /moor: error: could not install docker\.io \(on Ubuntu, docker\.io is in the universe/);
    assertClean(box);
  });

  it("dnf on Rocky: Docker's repository file, then the pinned docker-ce packages", { skip }, () => {
    const box = sandbox();
    box.touch(
      'download',
      '[docker-ce-stable]\nbaseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable\n',
    );
    const result = box.run(
      installScript(
        makePlan(box, {
          family: 'rhel',
          os: parseOsRelease('ID="rocky"\nID_LIKE="rhel centos fedora"'),
          engineVersion: '24.0.7',
        }),
      ),
    );
    assert.equal(result.status, 0, result.stderr);
    assert.equal(box.read('etc/yum.repos.d/docker-ce.repo'), readFileSync(join(box.dir, 'download'), 'utf8'));
    const calls = box.calls().filter((call) => !call.startsWith('sudo'));
    assert.equal(
      calls[0]?.replace(/ -o \S+/, ' -o FILE'),
      'curl -fsSL --retry 3 -o FILE https://download.docker.com/linux/centos/docker-ce.repo',
    );
    assert.equal(calls[1], 'dnf install -y docker-ce-24.0.7* docker-ce-cli-24.0.7* containerd.io');
    assertClean(box);
  });

  it('yum where there is no dnf (CentOS 7)', { skip: skip || (onHost('dnf') ? 'this host has dnf' : false) }, () => {
    const { box, result, calls } = install('rhel', 'ID="centos"\nID_LIKE="rhel fedora"', {}, { omit: ['dnf'] });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(calls.includes('yum install -y docker-ce docker-ce-cli containerd.io'), calls.join('\n'));
    assertClean(box);
  });

  it("dnf on Fedora: the distribution's moby-engine, no extra repository", { skip }, () => {
    const { result, calls } = install('rhel', 'ID=fedora', { engineVersion: '24.0' });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(
      calls.filter((call) => !call.startsWith('sudo')),
      ['dnf install -y moby-engine-24.0*'],
    );
  });

  it(
    'Amazon Linux 2: the amazon-linux-extras docker topic, then yum',
    {
      skip: skip || (onHost('dnf') ? 'this host has dnf' : false),
    },
    () => {
      const { result, calls } = install('amazon', 'ID="amzn"\nVERSION_ID="2"', {}, { omit: ['dnf'] });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(
        calls.filter((call) => !call.startsWith('sudo')),
        ['amazon-linux-extras enable docker', 'yum clean metadata', 'yum install -y docker'],
      );
    },
  );

  it('Amazon Linux 2023: dnf install docker', { skip }, () => {
    const { result, calls } = install('amazon', 'ID="amzn"\nVERSION_ID="2023"');
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(
      calls.filter((call) => !call.startsWith('sudo')),
      ['dnf install -y docker'],
    );
  });

  it('zypper, pacman and apk (with OpenRC at boot)', { skip }, () => {
    const expected: [Family, string, string[]][] = [
      ['suse', 'ID="sles"', ['zypper --non-interactive install docker']],
      ['arch', 'ID=arch', ['pacman -Sy --noconfirm --needed docker']],
      ['alpine', 'ID=alpine', ['apk add --no-cache docker', 'rc-update add docker default']],
    ];
    for (const [family, os, calls] of expected) {
      const run = install(family, os, { sshUser: 'root' });
      assert.equal(run.result.status, 0, run.result.stderr);
      assert.equal(run.result.lastLine, 'moor: changed=1');
      assert.deepEqual(run.calls, calls);
    }
  });

  it('script: downloads the given URL and runs it with sh and VERSION, as root', { skip }, () => {
    const url = "https://example.com/get.sh?a=1&b='$(touch${IFS}/tmp/moor-pwned)'`id`";
    const box = sandbox();
    box.touch(
      'download',
      '#!/bin/sh\nprintf "installer VERSION=%s\\n" "${VERSION:-}" >>"$SANDBOX/calls"\ncp "$SANDBOX/dockerd.stub" "$SANDBOX/bin/dockerd"\nchmod 755 "$SANDBOX/bin/dockerd"\n',
    );
    const plan = makePlan(box, {
      installMethod: 'script',
      engineVersion: '27.1.1',
      engine: { ...HOSTILE_ENGINE, InstallURL: url },
    });
    const result = box.run(installScript(plan));
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.lastLine, 'moor: changed=1');
    const calls = box.calls();
    assert.ok(
      calls.some((call) => call.startsWith('curl ') && call.endsWith(` ${url}`)),
      calls.join('\n'),
    );
    assert.ok(
      calls.some((call) => /^sudo -n env VERSION=27\.1\.1 sh \S+$/.test(call)),
      calls.join('\n'),
    );
    assert.ok(calls.includes('installer VERSION=27.1.1'));
    assertClean(box);
  });

  it('none: fails clearly when Docker is missing', { skip }, () => {
    const { box, result } = install('debian', 'ID=debian', { installMethod: 'none' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /moor: error: Docker is not installed on this host, and the install method is none/);
    assertClean(box);
  });
});
