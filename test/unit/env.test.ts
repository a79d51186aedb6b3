import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

import {
  DOCKER_ENV_NAMES,
  SUPPORTED_SHELLS,
  detectShell,
  dockerEnvVars,
  noProxyFor,
  noProxyWithout,
  renderEnv,
  resolveShell,
  type ShellName,
} from '../../src/core/env.js';
import { ExitCode, UsageError } from '../../src/core/errors.js';
import { needs, programMissing } from '../helpers/prerequisites.js';

const machine = {
  name: 'web',
  dockerHost: 'tcp://192.168.99.100:2376',
  certPath: '/home/u/.moor/machines/web',
  tlsVerify: true,
};
const setCommandLine = ['moor', 'env', 'web'];
const unsetCommandLine = ['moor', 'env', '-u'];

function renderSet(shell: ShellName, set = dockerEnvVars(machine, { platform: 'linux' })): string {
  return renderEnv({ shell, set, unset: [], commandLine: setCommandLine });
}

function renderUnset(shell: ShellName): string {
  return renderEnv({ shell, set: [], unset: [...DOCKER_ENV_NAMES], commandLine: unsetCommandLine });
}

const posixSet =
  'export DOCKER_TLS_VERIFY="1"\n' +
  'export DOCKER_HOST="tcp://192.168.99.100:2376"\n' +
  'export DOCKER_CERT_PATH="/home/u/.moor/machines/web"\n' +
  'export DOCKER_MACHINE_NAME="web"\n' +
  '# Run this command to configure your shell: \n' +
  '# eval $(moor env web)\n';

const posixUnset =
  'unset DOCKER_TLS_VERIFY\n' +
  'unset DOCKER_HOST\n' +
  'unset DOCKER_CERT_PATH\n' +
  'unset DOCKER_MACHINE_NAME\n' +
  '# Run this command to configure your shell: \n' +
  '# eval $(moor env -u)\n';

const expectedSet: Record<ShellName, string> = {
  bash: posixSet,
  zsh: posixSet,
  sh: posixSet,
  ksh: posixSet,
  dash: posixSet,
  fish:
    'set -gx DOCKER_TLS_VERIFY "1";\n' +
    'set -gx DOCKER_HOST "tcp://192.168.99.100:2376";\n' +
    'set -gx DOCKER_CERT_PATH "/home/u/.moor/machines/web";\n' +
    'set -gx DOCKER_MACHINE_NAME "web";\n' +
    '# Run this command to configure your shell: \n' +
    '# eval (moor env web)\n',
  powershell:
    '$Env:DOCKER_TLS_VERIFY = "1"\n' +
    '$Env:DOCKER_HOST = "tcp://192.168.99.100:2376"\n' +
    '$Env:DOCKER_CERT_PATH = "/home/u/.moor/machines/web"\n' +
    '$Env:DOCKER_MACHINE_NAME = "web"\n' +
    '# Run this command to configure your shell: \n' +
    '# & moor env web | Invoke-Expression\n',
  cmd:
    'SET DOCKER_TLS_VERIFY=1\n' +
    'SET DOCKER_HOST=tcp://192.168.99.100:2376\n' +
    'SET DOCKER_CERT_PATH=/home/u/.moor/machines/web\n' +
    'SET DOCKER_MACHINE_NAME=web\n' +
    'REM Run this command to configure your shell: \n' +
    'REM \t@FOR /f "tokens=*" %i IN (\'moor env web\') DO @%i\n',
  tcsh:
    'setenv DOCKER_TLS_VERIFY "1";\n' +
    'setenv DOCKER_HOST "tcp://192.168.99.100:2376";\n' +
    'setenv DOCKER_CERT_PATH "/home/u/.moor/machines/web";\n' +
    'setenv DOCKER_MACHINE_NAME "web";\n' +
    ': Run this command to configure your shell: \n' +
    ': eval `moor env web`\n',
  emacs:
    '(setenv "DOCKER_TLS_VERIFY" "1")\n' +
    '(setenv "DOCKER_HOST" "tcp://192.168.99.100:2376")\n' +
    '(setenv "DOCKER_CERT_PATH" "/home/u/.moor/machines/web")\n' +
    '(setenv "DOCKER_MACHINE_NAME" "web")\n' +
    ';; Run this command to configure your shell: \n' +
    ';; (with-temp-buffer (shell-command "moor env web" (current-buffer)) (eval-buffer))\n',
};

const expectedUnset: Record<ShellName, string> = {
  bash: posixUnset,
  zsh: posixUnset,
  sh: posixUnset,
  ksh: posixUnset,
  dash: posixUnset,
  fish:
    'set -e DOCKER_TLS_VERIFY;\n' +
    'set -e DOCKER_HOST;\n' +
    'set -e DOCKER_CERT_PATH;\n' +
    'set -e DOCKER_MACHINE_NAME;\n' +
    '# Run this command to configure your shell: \n' +
    '# eval (moor env -u)\n',
  powershell:
    'Remove-Item Env:\\\\DOCKER_TLS_VERIFY\n' +
    'Remove-Item Env:\\\\DOCKER_HOST\n' +
    'Remove-Item Env:\\\\DOCKER_CERT_PATH\n' +
    'Remove-Item Env:\\\\DOCKER_MACHINE_NAME\n' +
    '# Run this command to configure your shell: \n' +
    '# & moor env -u | Invoke-Expression\n',
  cmd:
    'SET DOCKER_TLS_VERIFY=\n' +
    'SET DOCKER_HOST=\n' +
    'SET DOCKER_CERT_PATH=\n' +
    'SET DOCKER_MACHINE_NAME=\n' +
    'REM Run this command to configure your shell: \n' +
    'REM \t@FOR /f "tokens=*" %i IN (\'moor env -u\') DO @%i\n',
  tcsh:
    'unsetenv DOCKER_TLS_VERIFY;\n' +
    'unsetenv DOCKER_HOST;\n' +
    'unsetenv DOCKER_CERT_PATH;\n' +
    'unsetenv DOCKER_MACHINE_NAME;\n' +
    ': Run this command to configure your shell: \n' +
    ': eval `moor env -u`\n',
  emacs:
    '(setenv "DOCKER_TLS_VERIFY" nil)\n' +
    '(setenv "DOCKER_HOST" nil)\n' +
    '(setenv "DOCKER_CERT_PATH" nil)\n' +
    '(setenv "DOCKER_MACHINE_NAME" nil)\n' +
    ';; Run this command to configure your shell: \n' +
    ';; (with-temp-buffer (shell-command "moor env -u" (current-buffer)) (eval-buffer))\n',
};

const allShells = Object.keys(expectedSet) as ShellName[];

function assertUsageError(action: () => unknown, messagePattern: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof UsageError);
    assert.equal(error.exitCode, ExitCode.usage);
    assert.match(error.message, messagePattern);
    return true;
  });
}

describe('renderEnv: docker-machine compatible output', () => {
  for (const shell of allShells) {
    it(`sets the machine's variables for ${shell}`, () => {
      assert.equal(renderSet(shell), expectedSet[shell]);
    });

    it(`unsets the Docker variables for ${shell}`, () => {
      assert.equal(renderUnset(shell), expectedUnset[shell]);
    });
  }

  it('quotes a program path containing a space or a backslash in the usage hint', () => {
    const withSpace = renderEnv({
      shell: 'bash',
      set: [],
      unset: [],
      commandLine: ['/opt/my tools/moor', 'env', 'web'],
    });
    assert.equal(withSpace, '# Run this command to configure your shell: \n# eval $("/opt/my tools/moor" env web)\n');
    const withBackslash = renderEnv({
      shell: 'powershell',
      set: [],
      unset: [],
      commandLine: ['C:\\bin\\moor.exe', 'env', 'web'],
    });
    assert.equal(
      withBackslash,
      '# Run this command to configure your shell: \n# & "C:\\bin\\moor.exe" env web | Invoke-Expression\n',
    );
  });

  it('prints set variables before unset ones', () => {
    const output = renderEnv({
      shell: 'bash',
      set: [{ name: 'NO_PROXY', value: 'localhost' }],
      unset: ['DOCKER_HOST'],
      commandLine: ['moor', 'env', '-u', '--no-proxy'],
    });
    assert.equal(
      output,
      'export NO_PROXY="localhost"\nunset DOCKER_HOST\n# Run this command to configure your shell: \n# eval $(moor env -u --no-proxy)\n',
    );
  });
});

describe('dockerEnvVars', () => {
  it('lists the TLS variables, host and name in docker-machine order', () => {
    assert.deepEqual(dockerEnvVars(machine, { platform: 'linux' }), [
      { name: 'DOCKER_TLS_VERIFY', value: '1' },
      { name: 'DOCKER_HOST', value: 'tcp://192.168.99.100:2376' },
      { name: 'DOCKER_CERT_PATH', value: '/home/u/.moor/machines/web' },
      { name: 'DOCKER_MACHINE_NAME', value: 'web' },
    ]);
  });

  it('leaves out the TLS variables when TLS is not verified', () => {
    assert.deepEqual(dockerEnvVars({ ...machine, tlsVerify: false }, { platform: 'darwin' }), [
      { name: 'DOCKER_HOST', value: 'tcp://192.168.99.100:2376' },
      { name: 'DOCKER_MACHINE_NAME', value: 'web' },
    ]);
  });

  it('adds COMPOSE_CONVERT_WINDOWS_PATHS on Windows, then the no-proxy variable', () => {
    const vars = dockerEnvVars(machine, { platform: 'win32', noProxy: { name: 'NO_PROXY', value: '192.168.99.100' } });
    assert.deepEqual(
      vars.map(({ name }) => name),
      [
        'DOCKER_TLS_VERIFY',
        'DOCKER_HOST',
        'DOCKER_CERT_PATH',
        'DOCKER_MACHINE_NAME',
        'COMPOSE_CONVERT_WINDOWS_PATHS',
        'NO_PROXY',
      ],
    );
    assert.equal(vars[4]?.value, 'true');
    assert.equal(vars[5]?.value, '192.168.99.100');
  });

  it('renders the Windows powershell output docker-machine printed', () => {
    const set = dockerEnvVars(machine, { platform: 'win32' });
    const output = renderEnv({ shell: 'powershell', set, unset: [], commandLine: setCommandLine });
    assert.ok(output.includes('$Env:DOCKER_MACHINE_NAME = "web"\n$Env:COMPOSE_CONVERT_WINDOWS_PATHS = "true"\n# Run'));
  });

  it('names the variables --unset clears', () => {
    assert.deepEqual(DOCKER_ENV_NAMES, ['DOCKER_TLS_VERIFY', 'DOCKER_HOST', 'DOCKER_CERT_PATH', 'DOCKER_MACHINE_NAME']);
  });
});

describe('detectShell', () => {
  it('uses the basename of $SHELL', () => {
    assert.equal(detectShell({ SHELL: '/usr/bin/zsh' }, 'linux'), 'zsh');
    assert.equal(detectShell({ SHELL: '/bin/bash' }, 'darwin'), 'bash');
    assert.equal(detectShell({ SHELL: '/usr/local/bin/fish' }, 'darwin'), 'fish');
    assert.equal(detectShell({ SHELL: '/bin/tcsh' }, 'freebsd'), 'tcsh');
    assert.equal(detectShell({ SHELL: '/bin/csh' }, 'freebsd'), 'tcsh');
    assert.equal(detectShell({ SHELL: '/usr/bin/pwsh' }, 'linux'), 'powershell');
  });

  it('uses bash syntax for shells it does not know', () => {
    assert.equal(detectShell({ SHELL: '/usr/bin/mksh' }, 'linux'), 'bash');
  });

  it('defaults to bash when $SHELL is empty or unset', () => {
    assert.equal(detectShell({}, 'linux'), 'bash');
    assert.equal(detectShell({ SHELL: '' }, 'darwin'), 'bash');
  });

  it('defaults to powershell on Windows, but honours $SHELL there (Git Bash, Cygwin)', () => {
    assert.equal(detectShell({}, 'win32'), 'powershell');
    assert.equal(detectShell({ SHELL: '/usr/bin/bash' }, 'win32'), 'bash');
    assert.equal(detectShell({ SHELL: 'C:\\Program Files\\Git\\usr\\bin\\BASH.EXE' }, 'win32'), 'bash');
  });
});

describe('resolveShell', () => {
  it('prefers the requested shell over $SHELL', () => {
    assert.equal(resolveShell('fish', { SHELL: '/bin/bash' }, 'linux'), 'fish');
    assert.equal(resolveShell('cmd', { SHELL: '/bin/bash' }, 'linux'), 'cmd');
  });

  it('maps the aliases pwsh and csh', () => {
    assert.equal(resolveShell('pwsh', {}, 'linux'), 'powershell');
    assert.equal(resolveShell('csh', {}, 'linux'), 'tcsh');
  });

  it('detects the shell when none or an empty one is requested', () => {
    assert.equal(resolveShell(undefined, { SHELL: '/usr/bin/zsh' }, 'linux'), 'zsh');
    assert.equal(resolveShell('', { SHELL: '/usr/bin/zsh' }, 'linux'), 'zsh');
    assert.equal(resolveShell(undefined, {}, 'win32'), 'powershell');
  });

  it('accepts every supported name', () => {
    for (const name of SUPPORTED_SHELLS) {
      assert.ok(allShells.includes(resolveShell(name, {}, 'linux')), name);
    }
    assert.deepEqual([...SUPPORTED_SHELLS].sort(), [
      'bash',
      'cmd',
      'csh',
      'dash',
      'emacs',
      'fish',
      'ksh',
      'powershell',
      'pwsh',
      'sh',
      'tcsh',
      'zsh',
    ]);
  });

  it('rejects an unknown shell with a usage error listing the supported ones', () => {
    assertUsageError(() => resolveShell('xonsh', { SHELL: '/bin/bash' }, 'linux'), /Unknown shell "xonsh"/);
    assertUsageError(
      () => resolveShell('nushell', {}, 'linux'),
      /Supported shells: bash, zsh, sh, ksh, dash, fish, powershell, pwsh, cmd, tcsh, csh, emacs\./,
    );
  });
});

describe('noProxyFor', () => {
  const ip = '10.0.0.1';

  it('uses NO_PROXY with just the IP when neither variable is set', () => {
    assert.deepEqual(noProxyFor(ip, {}), { name: 'NO_PROXY', value: ip });
    assert.deepEqual(noProxyFor(ip, { NO_PROXY: '', no_proxy: '' }), { name: 'NO_PROXY', value: ip });
  });

  it('appends the IP to an existing list', () => {
    assert.deepEqual(noProxyFor(ip, { NO_PROXY: 'localhost,127.0.0.1' }), {
      name: 'NO_PROXY',
      value: 'localhost,127.0.0.1,10.0.0.1',
    });
  });

  it('leaves the list unchanged when the IP is already an entry', () => {
    assert.deepEqual(noProxyFor(ip, { NO_PROXY: 'localhost,10.0.0.1' }), {
      name: 'NO_PROXY',
      value: 'localhost,10.0.0.1',
    });
    assert.deepEqual(noProxyFor(ip, { NO_PROXY: '10.0.0.1 , localhost' }), {
      name: 'NO_PROXY',
      value: '10.0.0.1 , localhost',
    });
  });

  it('does not mistake 10.0.0.10 for 10.0.0.1', () => {
    assert.deepEqual(noProxyFor(ip, { NO_PROXY: '10.0.0.10' }), { name: 'NO_PROXY', value: '10.0.0.10,10.0.0.1' });
    assert.deepEqual(noProxyFor('10.0.0.10', { NO_PROXY: '10.0.0.1' }), {
      name: 'NO_PROXY',
      value: '10.0.0.1,10.0.0.10',
    });
  });

  it('prefers a non-empty lowercase no_proxy', () => {
    assert.deepEqual(noProxyFor(ip, { no_proxy: 'example.com', NO_PROXY: 'other.org' }), {
      name: 'no_proxy',
      value: 'example.com,10.0.0.1',
    });
    assert.deepEqual(noProxyFor(ip, { no_proxy: '', NO_PROXY: 'other.org' }), {
      name: 'NO_PROXY',
      value: 'other.org,10.0.0.1',
    });
  });
});

describe('noProxyWithout', () => {
  const ip = '10.0.0.1';

  it('is undefined when neither variable is set', () => {
    assert.equal(noProxyWithout(ip, {}), undefined);
    assert.equal(noProxyWithout(ip, { NO_PROXY: '', no_proxy: '' }), undefined);
  });

  it('removes the IP entry and keeps the others', () => {
    assert.deepEqual(noProxyWithout(ip, { NO_PROXY: 'localhost,10.0.0.1,example.com' }), {
      name: 'NO_PROXY',
      value: 'localhost,example.com',
    });
    assert.deepEqual(noProxyWithout(ip, { no_proxy: '10.0.0.10, 10.0.0.1' }), { name: 'no_proxy', value: '10.0.0.10' });
  });

  it('returns an empty value when the IP was the only entry', () => {
    assert.deepEqual(noProxyWithout(ip, { NO_PROXY: '10.0.0.1' }), { name: 'NO_PROXY', value: '' });
  });

  it('leaves a list without the IP unchanged', () => {
    assert.deepEqual(noProxyWithout(ip, { NO_PROXY: '10.0.0.10,localhost' }), {
      name: 'NO_PROXY',
      value: '10.0.0.10,localhost',
    });
  });
});

describe('escaping hostile values', () => {
  const hostilePath = '/home/u/we"ird $(echo INJECTED) `echo TICK` \\ $HOME path';
  const hostileSet = dockerEnvVars({ ...machine, certPath: hostilePath }, { platform: 'linux' });

  function certPathLine(shell: ShellName): string {
    const line = renderSet(shell, hostileSet)
      .split('\n')
      .find((candidate) => candidate.includes('DOCKER_CERT_PATH'));
    assert.ok(line !== undefined);
    return line;
  }

  function evaluate(shellProgram: string, script: string, rendered: string): string {
    const result = spawnSync(shellProgram, ['-c', `${script}\nprintf '%s' "$DOCKER_CERT_PATH"`], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', RENDERED: rendered },
      encoding: 'utf8',
    });
    assert.equal(result.error, undefined);
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  }

  for (const shellProgram of ['bash', 'sh'] as const) {
    const missing = programMissing(
      shellProgram,
      ['-c', 'true'],
      `apt-get install ${shellProgram === 'sh' ? 'dash' : 'bash'}`,
    );

    it(`${shellProgram} evaluates the output back to the original value`, (t) => {
      if (!needs(t, missing)) return;
      const rendered = renderSet(shellProgram, hostileSet);
      assert.equal(evaluate(shellProgram, rendered, rendered), hostilePath);
    });

    it(`${shellProgram} gets the original value through the documented eval $(...)`, (t) => {
      if (!needs(t, missing)) return;
      const rendered = renderSet(shellProgram, hostileSet);
      assert.equal(evaluate(shellProgram, `eval $(printf '%s' "$RENDERED")`, rendered), hostilePath);
    });
  }

  // CI installs tcsh (.ci/run): there a missing tcsh fails the test.
  const tcshMissing = programMissing('tcsh', ['-f', '-c', 'true'], 'apt-get install tcsh');

  it('tcsh gets the original value, run directly and through the documented eval `...`', (t) => {
    if (!needs(t, tcshMissing)) return;
    const value = `${hostilePath} a!b 'q'`;
    const rendered = renderEnv({ shell: 'tcsh', set: [{ name: 'X', value }], unset: [], commandLine: [] });
    for (const script of [`${rendered}printenv X`, 'eval `printenv RENDERED`; printenv X']) {
      const result = spawnSync('tcsh', ['-f', '-c', script], {
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', RENDERED: rendered },
        encoding: 'utf8',
      });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, `${value}\n`, script);
    }
  });

  it('backslash-escapes for bash-like shells', () => {
    assert.equal(
      certPathLine('zsh'),
      'export DOCKER_CERT_PATH="/home/u/we\\"ird \\$(echo INJECTED) \\`echo TICK\\` \\\\ \\$HOME path"',
    );
  });

  it('escapes backslash, double quote and dollar for fish', () => {
    assert.equal(
      certPathLine('fish'),
      'set -gx DOCKER_CERT_PATH "/home/u/we\\"ird \\$(echo INJECTED) `echo TICK` \\\\ \\$HOME path";',
    );
  });

  it('backtick-escapes for powershell', () => {
    assert.equal(
      certPathLine('powershell'),
      '$Env:DOCKER_CERT_PATH = "/home/u/we`"ird `$(echo INJECTED) ``echo TICK`` \\ `$HOME path"',
    );
    const typographic = renderEnv({
      shell: 'powershell',
      set: [{ name: 'X', value: 'a\u201Cb' }],
      unset: [],
      commandLine: [],
    });
    assert.ok(typographic.startsWith('$Env:X = "a`\u201Cb"\n'));
  });

  it('escapes backslash and double quote for emacs', () => {
    assert.equal(
      certPathLine('emacs'),
      '(setenv "DOCKER_CERT_PATH" "/home/u/we\\"ird $(echo INJECTED) `echo TICK` \\\\ $HOME path")',
    );
  });

  it('takes csh specials out of the double quotes for tcsh', () => {
    assert.equal(
      certPathLine('tcsh'),
      'setenv DOCKER_CERT_PATH "/home/u/we"\\""ird "\\$"(echo INJECTED) "\\`"echo TICK"\\`" "\\\\" "\\$"HOME path";',
    );
    const bang = renderEnv({ shell: 'tcsh', set: [{ name: 'X', value: 'a!b' }], unset: [], commandLine: [] });
    assert.ok(bang.startsWith('setenv X "a"\\!"b";\n'));
  });

  it('refuses values cmd cannot express', () => {
    for (const bad of ['"', '&', '|', '<', '>', '^', '%']) {
      assertUsageError(
        () =>
          renderEnv({
            shell: 'cmd',
            set: [{ name: 'DOCKER_CERT_PATH', value: `C:\\a${bad}b` }],
            unset: [],
            commandLine: [],
          }),
        /Cannot print DOCKER_CERT_PATH for cmd/,
      );
    }
    const plain = renderEnv({
      shell: 'cmd',
      set: [{ name: 'DOCKER_CERT_PATH', value: 'C:\\Users\\u\\.moor\\machines\\web' }],
      unset: [],
      commandLine: [],
    });
    assert.ok(plain.startsWith('SET DOCKER_CERT_PATH=C:\\Users\\u\\.moor\\machines\\web\n'));
  });

  it('refuses line breaks and other control characters in every shell', () => {
    for (const shell of allShells) {
      for (const bad of ['a\nb', 'a\rb', 'a\tb']) {
        assertUsageError(
          () => renderEnv({ shell, set: [{ name: 'DOCKER_CERT_PATH', value: bad }], unset: [], commandLine: [] }),
          /control character/,
        );
      }
    }
  });
});
