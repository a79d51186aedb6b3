/**
 * The qemu driver's shared folders (drivers/qemu/share.ts, drivers/shared/vm/share-folders.ts), without a VM: --qemu-share-folder's parsing and
 * validation (flag and environment variable), the sftp-server lookup, the remote commands run through a
 * real shell with fake sudo/findmnt/sshfs that record their arguments (quoting), the agent's command line
 * (built and from the sources), and the agent's start and stop with fake agents (one that mounts, one that
 * fails).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { qemuDriver } from '../../drivers/qemu/definition.js';
import { factory } from '../../drivers/qemu/driver.js';
import {
  agentCommand,
  agentPid,
  findSftpServer,
  installSshfsCommand,
  mountCommand,
  mountedCommand,
  SftpServerMissingError,
  SHARE_FILES,
  startAgent,
  stopAgent,
  targetOf,
  unmountCommand,
} from '../../drivers/qemu/share.js';
import { parseShareFolders as parseFor } from '../../drivers/shared/vm/share-folders.js';
import { resolveDriverFlags } from '../../src/core/driver-flags.js';
import type { DriverContext } from '../../src/core/driver.js';
import { processIsGone } from '../../src/core/fsutil.js';
import { silentLogger } from '../../src/core/log.js';

const parseShareFolders = (values: string[], cwd: string) => parseFor('qemu-share-folder', values, cwd);

let root: string;
let project: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'moor-share-'));
  project = join(root, "my project's");
  await mkdir(project);
  await mkdir(join(root, 'other'));
  await writeFile(join(root, 'a-file'), 'x');
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function usage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: Error & { code?: string; exitCode?: number }) => {
    assert.equal(error.code, 'USAGE', error.message);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('--qemu-share-folder values', () => {
  it('HOST:GUEST, HOST alone (the same path in the VM), a relative HOST from the current folder', () => {
    assert.deepEqual(parseShareFolders([`${project}:/work`, 'other'], root), [
      { Host: project, Guest: '/work' },
      { Host: join(root, 'other'), Guest: join(root, 'other') },
    ]);
    // The same host folder twice is fine, at two places in the VM; slashes are tidied.
    assert.deepEqual(parseShareFolders([`${project}:/a`, `${project}/:/b/`], root), [
      { Host: project, Guest: '/a' },
      { Host: project, Guest: '/b' },
    ]);
    assert.deepEqual(parseShareFolders([`${project}:/srv/app//x/`], root), [{ Host: project, Guest: '/srv/app/x' }]);
    assert.deepEqual(parseShareFolders([' ', ''], root), []);
  });

  it('refused before anything exists: a missing host folder, a file, a relative or system folder in the VM, overlaps', () => {
    usage(() => parseShareFolders([`${root}/nope:/work`], root), /host folder .*nope does not exist.*/);
    usage(() => parseShareFolders([`${root}/a-file:/work`], root), /is not a folder/);
    usage(() => parseShareFolders([`${project}:work`], root), /must be an absolute path/);
    usage(() => parseShareFolders([':/work'], root), /names no host folder/);
    usage(() => parseShareFolders([`${project}:/`], root), /system folder/);
    usage(() => parseShareFolders([`${project}:/etc/app`], root), /\/etc\/app is a system folder/);
    usage(() => parseShareFolders([`${project}:/usr`], root), /system folder/);
    usage(
      () => parseShareFolders([`${project}:/work`, `${root}/other:/work/`], root),
      /\/work in the VM is given twice/,
    );
    usage(() => parseShareFolders([`${project}:/work`, `${root}/other:/work/sub`], root), /overlaps \/work/);
    usage(() => parseShareFolders([`${project}:/work/sub`, `${root}/other:/work`], root), /overlaps \/work\/sub/);
    // The message says what to do.
    assert.throws(
      () => parseShareFolders([`${root}/nope:/work`], root),
      (error: Error & { suggestions: string[] }) => error.suggestions.some((s) => s.includes('mkdir -p')),
    );
  });

  it('the flag is repeatable; MOOR_QEMU_SHARE_FOLDER takes several, comma-separated; fromFlags stores them', () => {
    const flag = qemuDriver.flags.find((f) => f.name === 'qemu-share-folder');
    assert.equal(flag?.type, 'strings');
    assert.deepEqual(flag?.env, ['MOOR_QEMU_SHARE_FOLDER']);
    const fromEnv = resolveDriverFlags(qemuDriver, {}, { MOOR_QEMU_SHARE_FOLDER: `${project}:/a, ${root}/other:/b` });
    assert.deepEqual(fromEnv['qemu-share-folder'], [`${project}:/a`, `${root}/other:/b`]);
    const given = resolveDriverFlags(
      qemuDriver,
      { 'qemu-share-folder': [`${project}:/a`] },
      { MOOR_QEMU_SHARE_FOLDER: `${root}/other:/b` },
    );
    assert.deepEqual(given['qemu-share-folder'], [`${project}:/a`], 'the flag wins over the variable');

    const context = {
      machineName: 'dev',
      machineDir: join(root, 'm'),
      env: {},
      log: silentLogger,
    } as unknown as DriverContext;
    const flags = (extra: Record<string, string[]>) =>
      resolveDriverFlags(qemuDriver, { 'qemu-image-url': '/img.qcow2', ...extra }, {});
    const driver = factory.fromFlags(context, flags({ 'qemu-share-folder': [`${project}:/a`] }));
    assert.deepEqual(driver.toJSON()['Shares'], [{ Host: project, Guest: '/a' }]);
    assert.deepEqual(factory.fromFlags(context, flags({})).toJSON()['Shares'], []);
    // A stored record keeps them; an older record without them has none.
    assert.deepEqual(factory.fromRecord(context, driver.toJSON()).toJSON()['Shares'], [{ Host: project, Guest: '/a' }]);
    assert.deepEqual(factory.fromRecord(context, {}).toJSON()['Shares'], []);
    assert.throws(
      () => factory.fromFlags(context, flags({ 'qemu-share-folder': [`${project}:dir`] })),
      /must be an absolute path/,
    );
  });
});

describe('sftp-server', () => {
  it('is looked for where Debian, Fedora, Arch, macOS and Homebrew put it, then on PATH', () => {
    const only = (path: string) => (candidate: string) => candidate === path;
    assert.equal(findSftpServer({}, only('/usr/lib/openssh/sftp-server')), '/usr/lib/openssh/sftp-server');
    assert.equal(findSftpServer({}, only('/usr/libexec/openssh/sftp-server')), '/usr/libexec/openssh/sftp-server');
    assert.equal(findSftpServer({}, only('/usr/lib/ssh/sftp-server')), '/usr/lib/ssh/sftp-server');
    assert.equal(findSftpServer({}, only('/usr/libexec/sftp-server')), '/usr/libexec/sftp-server');
    assert.equal(
      findSftpServer({}, only('/opt/homebrew/opt/openssh/libexec/sftp-server')),
      '/opt/homebrew/opt/openssh/libexec/sftp-server',
    );
    assert.equal(findSftpServer({ PATH: '/x/bin:/y/bin' }, only('/y/bin/sftp-server')), '/y/bin/sftp-server');
    assert.equal(
      findSftpServer({ PATH: '/x/bin' }, () => false),
      undefined,
    );
  });

  it('missing: a pre-create error (exit 3) that names the package per system', () => {
    const error = new SftpServerMissingError();
    assert.equal(error.code, 'QEMU_SFTP_SERVER_MISSING');
    assert.equal(error.exitCode, 3);
    assert.ok(error.suggestions.some((s) => s.includes('apt-get install openssh-sftp-server')));
  });
});

describe('remote commands (run by a real shell with fake sudo, findmnt, sshfs, umount)', () => {
  let bin: string;
  let calls: string;
  before(async () => {
    bin = join(root, 'bin');
    calls = join(root, 'calls');
    await mkdir(bin);
    // Each fake records its name and arguments, one per line; findmnt answers $FINDMNT_EXIT.
    const recorder = (name: string, tail = '') =>
      `#!/bin/sh\n{ echo "== ${name}"; for a in "$@"; do printf '%s\\n' "[$a]"; done; } >>"${calls}"\n${tail}`;
    await writeFile(join(bin, 'sudo'), `${recorder('sudo')}[ "$1" = -n ] && shift\nexec "$@"\n`);
    await writeFile(join(bin, 'findmnt'), `${recorder('findmnt')}exit "\${FINDMNT_EXIT:-1}"\n`);
    await writeFile(join(bin, 'sshfs'), recorder('sshfs'));
    await writeFile(join(bin, 'umount'), recorder('umount'));
    await writeFile(join(bin, 'mkdir'), recorder('mkdir'));
    for (const name of ['sudo', 'findmnt', 'sshfs', 'umount', 'mkdir']) await chmod(join(bin, name), 0o755);
  });

  function runShell(command: string, env: Record<string, string> = {}): { code: number | null; calls: string } {
    spawnSync('rm', ['-f', calls]);
    const result = spawnSync('sh', ['-c', command], {
      env: { ...process.env, PATH: `${bin}:${process.env['PATH']}`, ...env },
      encoding: 'utf8',
    });
    let recorded = '';
    try {
      recorded = spawnSync('cat', [calls], { encoding: 'utf8' }).stdout;
    } catch {
      // nothing recorded
    }
    return { code: result.status, calls: recorded };
  }

  const share = { Host: "/home/me/it's a $(project)", Guest: '/work dir/`x`' };

  it('mount: as root, GUEST made, sshfs in the foreground in slave mode; every value one word, nothing run', () => {
    assert.match(mountCommand(share), /^sudo -n sh -c '/);
    const { code, calls: recorded } = runShell(mountCommand(share));
    assert.equal(code, 0);
    const [sudo, rest] = recorded.split('== findmnt\n');
    assert.ok(sudo!.startsWith('== sudo\n[-n]\n[sh]\n[-c]\n'), sudo);
    assert.ok(sudo!.endsWith(`[sh]\n[${share.Guest}]\n[${share.Host}]\n`), sudo);
    assert.equal(
      rest,
      [
        '[-n]',
        '[-t]',
        '[fuse.sshfs]',
        '[--mountpoint]',
        `[${share.Guest}]`,
        '== mkdir',
        '[-p]',
        `[${share.Guest}]`,
        '== sshfs',
        '[-f]',
        '[-o]',
        '[slave,allow_other,noatime]',
        `[:${share.Host}]`,
        `[${share.Guest}]`,
        '',
      ].join('\n'),
    );
  });

  it('mount over a stale sshfs mount (its connection died): unmounted first', () => {
    const { calls: recorded } = runShell(mountCommand(share), { FINDMNT_EXIT: '0' });
    assert.match(recorded, /== umount\n\[-l\]\n\[\/work dir\/`x`\]\n== mkdir/);
  });

  it('mounted? and unmount: the guest path quoted; unmount only an sshfs mount', () => {
    assert.equal(mountedCommand(share), "findmnt -n -t fuse.sshfs --mountpoint '/work dir/`x`' >/dev/null");
    assert.equal(runShell(mountedCommand(share), { FINDMNT_EXIT: '0' }).code, 0);
    assert.equal(runShell(mountedCommand(share)).code, 1);
    assert.doesNotMatch(runShell(unmountCommand(share)).calls, /== umount/);
    assert.match(
      runShell(unmountCommand(share), { FINDMNT_EXIT: '0' }).calls,
      /== umount\n\[-l\]\n\[\/work dir\/`x`\]/,
    );
  });

  it('install sshfs: nothing when present; else after cloud-init, apt-get or dnf, each bounded by timeout', () => {
    const command = installSshfsCommand(120);
    assert.match(command, /^sudo -n sh -c '/);
    assert.match(command, / sh 120$/);
    const script = command.slice("sudo -n sh -c '".length, command.lastIndexOf("' sh "));
    assert.match(script, /^command -v sshfs >\/dev\/null 2>&1 && exit 0/);
    assert.match(script, /timeout "\$1" cloud-init status --wait/);
    assert.match(
      script,
      /timeout "\$1" apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends sshfs/,
    );
    assert.match(script, /timeout "\$1" dnf install -y -q fuse-sshfs/);
    // sshfs is on PATH here (the fake): the script stops at once, without sudo's help.
    assert.equal(runShell(command).code, 0);
    const check = spawnSync('sh', ['-n', '-c', script]);
    assert.equal(check.status, 0, check.stderr?.toString());
  });
});

describe('the share agent', () => {
  it('its command line: the same node and the built script, or the TypeScript sources with the loader flags', async () => {
    const dist = join(root, 'pkg', 'dist');
    await mkdir(join(dist, 'agents'), { recursive: true });
    await writeFile(join(dist, 'agents', 'qemu-share.js'), '');
    const self = (file: string, execArgv: string[] = ['--import', 'tsx']) => ({
      execPath: '/usr/bin/node',
      execArgv,
      moduleUrl: pathToFileURL(file).href,
    });
    assert.deepEqual(agentCommand('/store/machines/dev', self(join(dist, 'chunks', 'chunk-X.js'))), [
      '/usr/bin/node',
      join(dist, 'agents', 'qemu-share.js'),
      '/store/machines/dev',
    ]);
    assert.deepEqual(agentCommand('/store/machines/dev', self(join(dist, 'fast.cjs'))), [
      '/usr/bin/node',
      join(dist, 'agents', 'qemu-share.js'),
      '/store/machines/dev',
    ]);
    assert.deepEqual(agentCommand('/m/dev', self('/src/moor/drivers/qemu/share.ts')), [
      '/usr/bin/node',
      '--import',
      'tsx',
      '/src/moor/drivers/qemu/share-agent.ts',
      '/m/dev',
    ]);
  });

  it('its SSH target: the machine as the driver reports it, the host key pinned when known', () => {
    const config = {
      Machine: 'dev',
      Host: '127.0.0.1',
      Port: 40022,
      User: 'docker',
      KeyPath: '/m/dev/id_ed25519',
      HostKey: 'ssh-ed25519 AAAA',
      SftpServer: '/usr/lib/openssh/sftp-server',
      Shares: [],
    };
    assert.deepEqual(targetOf(config), {
      host: '127.0.0.1',
      port: 40022,
      user: 'docker',
      privateKeyPath: '/m/dev/id_ed25519',
      machineName: 'dev',
      hostKey: 'ssh-ed25519 AAAA',
    });
    assert.equal('hostKey' in targetOf({ ...config, HostKey: '' }), false);
  });

  it('start waits for its report, stop ends it (SIGTERM) and removes its files; a failing agent: its log in the error', async () => {
    const machineDir = join(root, 'machines', 'dev');
    await mkdir(machineDir, { recursive: true });
    // Fake agents named like the real one (the pid check reads the command line).
    const good = join(root, 'good', 'qemu-share.js');
    const bad = join(root, 'bad', 'qemu-share.js');
    await mkdir(join(root, 'good'));
    await mkdir(join(root, 'bad'));
    await writeFile(
      good,
      `const { writeFileSync } = require('node:fs');
       setTimeout(() => writeFileSync(process.argv[2] + '/${SHARE_FILES.status}',
         JSON.stringify({ Pid: process.pid, State: 'mounted', At: '' })), 300);
       process.on('SIGTERM', () => process.exit(0));
       setInterval(() => {}, 1000);`,
    );
    await writeFile(bad, `console.error('sshfs: command not found'); process.exit(1);`);

    const pid = await startAgent(machineDir, { env: process.env, command: [process.execPath, good, machineDir] });
    assert.equal(agentPid(machineDir), pid);
    assert.equal((await readFile(join(machineDir, SHARE_FILES.pid), 'utf8')).trim(), String(pid));
    await stopAgent(machineDir);
    assert.ok(processIsGone(pid));
    assert.equal(agentPid(machineDir), undefined);
    await assert.rejects(readFile(join(machineDir, SHARE_FILES.pid)), /ENOENT/);

    await assert.rejects(
      startAgent(machineDir, { env: process.env, command: [process.execPath, bad, machineDir] }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'QEMU_SHARE_FAILED');
        assert.match(error.message, /the share agent exited[\s\S]*sshfs: command not found/);
        return true;
      },
    );
    assert.equal(agentPid(machineDir), undefined);
    // A pid file naming a live process that is not this machine's agent (this test's own) is not stopped.
    await writeFile(join(machineDir, SHARE_FILES.pid), `${process.pid}\n`);
    assert.equal(agentPid(machineDir), undefined);
    await stopAgent(machineDir);
  });
});
