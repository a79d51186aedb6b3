/**
 * A sandbox to run rendered provisioning scripts for real: every path they look at or write is under a
 * temporary root (the scripts' fsRoot), and the commands that would touch the host (sudo, systemctl,
 * rc-service, package managers, curl, dockerd…) are stubs that log their arguments to $SANDBOX/calls.
 *
 * Used by test/unit/provision-run.test.ts (install and configure scripts) and provision-upgrade.test.ts
 * (the upgrade script), which needs this on top: `dockerd --version` prints the version in $SANDBOX/engine-version (24.0.7 when the
 * file is missing), and a package manager or install script that installs or upgrades Docker moves
 * $SANDBOX/next-version there when it exists. Files in $SANDBOX steer the other stubs (see STUBS).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Created by a hostile value that gets executed. */
export const MARKER = '/tmp/moor-pwned';
/** A value that runs `touch MARKER` in every way a shell could, if it were ever unquoted. */
export const HOSTILE = `it's "double" $(touch ${MARKER}) \`touch ${MARKER}\`; touch ${MARKER} & | > * ~ \\ %h %% $HOME $$`;
/** An http URL that is hostile too. */
export const HOSTILE_URL = `https://example.com/get.sh?a=1&b='$(touch\${IFS}${MARKER})'\`id\``;

const HOST_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
export const onHost = (command: string): boolean => HOST_DIRS.some((dir) => existsSync(join(dir, command)));
/** The scripts look for dockerd in /usr/sbin and /usr/bin too: a host that has one confuses the sandbox. */
export const HOST_HAS_DOCKERD = onHost('dockerd');
/** The shells the scripts are run with: dash or whatever sh is, and bash in POSIX mode where there is one. */
export const SHELLS: string[][] = [['sh'], ...(onHost('bash') ? [['bash', '--posix']] : [])];

const PREAMBLE = `#!/bin/sh
log() { printf '%s\\n' "$*" >>"$SANDBOX/calls"; }
install_dockerd() {
  cp "$SANDBOX/dockerd.stub" "$SANDBOX/bin/dockerd"
  chmod 755 "$SANDBOX/bin/dockerd"
  if [ -e "$SANDBOX/next-version" ]; then mv "$SANDBOX/next-version" "$SANDBOX/engine-version"; fi
}
`;

/** Stubs, by command name: the body after PREAMBLE. */
export const STUBS: Record<string, string> = {
  sudo: `log sudo "$@"
if [ -e "$SANDBOX/deny-sudo" ]; then exit 1; fi
[ "$1" = -n ] && shift
exec "$@"`,
  hostname: `if [ $# -eq 0 ]; then cat "$SANDBOX/hostname"; exit 0; fi
log hostname "$@"
printf '%s\\n' "$1" >"$SANDBOX/hostname"`,
  systemctl: `log systemctl "$@"
case "$1" in
  is-active)
    quiet=0; if [ "$2" = --quiet ]; then quiet=1; fi
    if [ -e "$SANDBOX/active" ]; then state=active; else state=$(cat "$SANDBOX/state" 2>/dev/null || echo inactive); fi
    if [ "$quiet" = 0 ]; then echo "$state"; fi
    [ "$state" = active ] ;;
  is-enabled) [ -e "$SANDBOX/enabled" ] ;;
  restart|start) if [ -e "$SANDBOX/fail-restart" ]; then exit 1; fi; : >"$SANDBOX/active" ;;
  enable) : >"$SANDBOX/enabled" ;;
esac`,
  journalctl: `log journalctl "$@"
echo "dockerd[1]: failed to start daemon: fake"`,
  'rc-service': `log rc-service "$@"
case "$2" in
  status) [ -e "$SANDBOX/active" ] ;;
  start|restart) if [ -e "$SANDBOX/fail-restart" ]; then exit 1; fi; : >"$SANDBOX/active" ;;
esac`,
  'rc-update': `log rc-update "$@"
case "$1" in
  show) if [ -e "$SANDBOX/enabled" ]; then echo "                docker | default"; fi ;;
  add) : >"$SANDBOX/enabled" ;;
esac`,
  'apt-get': `log apt-get "DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-}" "$@"
locked=$(cat "$SANDBOX/apt-locked" 2>/dev/null || echo 0)
if [ "$locked" -gt 0 ]; then
  echo $((locked - 1)) >"$SANDBOX/apt-locked"
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 812 (unattended-upgr)" >&2
  exit 100
fi
if [ "$1" = install ]; then
  if [ -e "$SANDBOX/apt-broken" ]; then echo "E: Unable to locate package docker.io" >&2; exit 100; fi
  install_dockerd
fi`,
  'apt-cache': `log apt-cache "$@"
[ -e "$SANDBOX/has-docker-cli" ]`,
  dpkg: `log dpkg "$@"
if [ "$1" = -s ] && [ "$2" = docker-cli ] && [ -e "$SANDBOX/has-docker-cli" ]; then
  printf 'Package: docker-cli\\nStatus: install ok installed\\n'
  exit 0
fi
echo "dpkg-query: package '$2' is not installed" >&2
exit 1`,
  dnf: `log dnf "$@"
case "$1" in install|upgrade) install_dockerd ;; esac`,
  yum: `log yum "$@"
case "$1" in install|upgrade) install_dockerd ;; esac`,
  'amazon-linux-extras': 'log amazon-linux-extras "$@"',
  zypper: `log zypper "$@"
install_dockerd`,
  pacman: `log pacman "$@"
install_dockerd`,
  apk: `log apk "$@"
if [ "$1" = info ]; then [ -e "$SANDBOX/apk-has-$3" ]; exit; fi
install_dockerd`,
  curl: `log curl "$@"
while [ $# -gt 1 ]; do
  if [ "$1" = -o ]; then out=$2; shift; fi
  shift
done
cp "$SANDBOX/download" "$out"`,
  sleep: 'log sleep "$@"',
};

const DOCKERD_STUB = `${PREAMBLE}log dockerd "$@"
case "$1" in
  --version) printf 'Docker version %s, build 0123abc\\n' "$(cat "$SANDBOX/engine-version" 2>/dev/null || echo 24.0.7)" ;;
  --help) echo "      --validate       Validate daemon configuration and exit" ;;
  --validate)
    if [ -e "$SANDBOX/invalid" ]; then echo "unable to configure the Docker daemon with file $3: fake problem" >&2; exit 1; fi
    echo "configuration OK" ;;
esac
`;

/**
 * A downloadable install script (put it in $SANDBOX/download) that logs the VERSION it was given and
 * installs dockerd like the package managers do.
 */
export const INSTALLER_STUB = `#!/bin/sh
printf 'installer VERSION=%s\\n' "\${VERSION:-}" >>"$SANDBOX/calls"
cp "$SANDBOX/dockerd.stub" "$SANDBOX/bin/dockerd"
chmod 755 "$SANDBOX/bin/dockerd"
if [ -e "$SANDBOX/next-version" ]; then mv "$SANDBOX/next-version" "$SANDBOX/engine-version"; fi
`;

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout: `moor: changed=0|1` for a script that finished. */
  lastLine: string;
}

export interface Sandbox {
  dir: string;
  /** The scripts' fsRoot. */
  root: string;
  /** The stubs, first on PATH. */
  bin: string;
  /** TMPDIR: empty again after a script that cleans up after itself. */
  tmp: string;
  run(script: string, shell?: string[]): RunResult;
  /** Stub calls logged since the last call of this function. */
  calls(): string[];
  touch(name: string, content?: string): void;
  remove(name: string): void;
  /** A file under the root. */
  read(path: string): string;
}

export interface SandboxOptions {
  /** Stubs to leave out (as if the command were not installed). */
  omit?: string[];
  /** Start with dockerd installed. */
  dockerd?: boolean;
  /** A systemd host: $ROOT/run/systemd/system exists. */
  systemd?: boolean;
  /** The version `dockerd --version` reports at first (default 24.0.7). */
  engineVersion?: string;
}

const sandboxes: string[] = [];

/** Removes every sandbox made so far: call it from the test file's after(). */
export function removeSandboxes(): void {
  for (const dir of sandboxes.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function sandbox(options: SandboxOptions = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'moor-run-'));
  sandboxes.push(dir);
  const root = join(dir, 'root');
  const bin = join(dir, 'bin');
  const tmp = join(dir, 'tmp');
  for (const folder of [root, bin, tmp, join(root, 'etc')]) mkdirSync(folder, { recursive: true });
  for (const [name, body] of Object.entries(STUBS)) {
    if (options.omit?.includes(name)) continue;
    writeFileSync(join(bin, name), `${PREAMBLE}${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  writeFileSync(join(dir, 'dockerd.stub'), DOCKERD_STUB);
  if (options.dockerd ?? false) {
    writeFileSync(join(bin, 'dockerd'), DOCKERD_STUB);
    chmodSync(join(bin, 'dockerd'), 0o755);
  }
  if (options.engineVersion !== undefined) writeFileSync(join(dir, 'engine-version'), `${options.engineVersion}\n`);
  if (options.systemd ?? false) mkdirSync(join(root, 'run/systemd/system'), { recursive: true });
  writeFileSync(join(dir, 'hostname'), 'old-name\n');
  writeFileSync(join(dir, 'calls'), '');
  writeFileSync(join(dir, 'download'), '# downloaded\n');
  let seen = 0;
  return {
    dir,
    root,
    bin,
    tmp,
    run(script, shell = ['sh']) {
      const file = join(dir, 'script.sh');
      writeFileSync(file, script);
      const result = spawnSync(shell[0] as string, [...shell.slice(1), file], {
        encoding: 'utf8',
        env: { PATH: `${bin}:/usr/bin:/bin`, SANDBOX: dir, TMPDIR: tmp, HOME: dir, LC_ALL: 'C' },
      });
      const lines = result.stdout.trimEnd().split('\n');
      return {
        status: result.status,
        stdout: result.stdout,
        stderr: result.stderr,
        lastLine: lines[lines.length - 1] ?? '',
      };
    },
    calls() {
      const all = readFileSync(join(dir, 'calls'), 'utf8').split('\n').slice(0, -1);
      const fresh = all.slice(seen);
      seen = all.length;
      return fresh;
    },
    touch(name, content = '') {
      writeFileSync(join(dir, name), content);
    },
    remove(name) {
      rmSync(join(dir, name), { force: true });
    },
    read(path) {
      return readFileSync(join(root, path), 'utf8');
    },
  };
}

/** No hostile value ran, and the script removed its temporary files. */
export function assertClean(box: Sandbox): void {
  assert.equal(existsSync(MARKER), false, 'a hostile value was executed');
  assert.deepEqual(readdirSync(box.tmp), [], 'temporary files are removed');
}
