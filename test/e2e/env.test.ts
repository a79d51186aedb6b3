/** `moor env`: the exact output for every shell, --unset, --no-proxy, and evaluation in real shells. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { needs, programMissing } from '../helpers/prerequisites.js';
import { assertExit, BIN, ROOT, run, TempStore } from './helpers.js';

const URL = 'tcp://127.0.0.1:2376';
const WARNING = /Warning: The Docker engine of "web" is not answering yet/;

describe('env', () => {
  let store: TempStore;
  let dir: string;

  before(async () => {
    store = await TempStore.create();
    await store.createNone('web', URL);
    dir = store.machineDir('web');
  });
  after(() => store.cleanup());

  const expected: Record<string, () => { args: string[]; env?: Record<string, string>; stdout: string }> = {
    'bash (from SHELL=/bin/bash)': () => ({
      args: ['env', 'web'],
      env: { SHELL: '/bin/bash' },
      stdout:
        'export DOCKER_TLS_VERIFY="1"\n' +
        `export DOCKER_HOST="${URL}"\n` +
        `export DOCKER_CERT_PATH="${dir}"\n` +
        'export DOCKER_MACHINE_NAME="web"\n' +
        '# Run this command to configure your shell: \n' +
        '# eval $(moor env web)\n',
    }),
    zsh: () => ({
      args: ['env', '--shell', 'zsh', 'web'],
      stdout:
        'export DOCKER_TLS_VERIFY="1"\n' +
        `export DOCKER_HOST="${URL}"\n` +
        `export DOCKER_CERT_PATH="${dir}"\n` +
        'export DOCKER_MACHINE_NAME="web"\n' +
        '# Run this command to configure your shell: \n' +
        '# eval $(moor env --shell zsh web)\n',
    }),
    fish: () => ({
      args: ['env', '--shell', 'fish', 'web'],
      stdout:
        'set -gx DOCKER_TLS_VERIFY "1";\n' +
        `set -gx DOCKER_HOST "${URL}";\n` +
        `set -gx DOCKER_CERT_PATH "${dir}";\n` +
        'set -gx DOCKER_MACHINE_NAME "web";\n' +
        '# Run this command to configure your shell: \n' +
        '# eval (moor env --shell fish web)\n',
    }),
    'fish (from SHELL=/usr/bin/fish)': () => ({
      args: ['env', 'web'],
      env: { SHELL: '/usr/bin/fish' },
      stdout:
        'set -gx DOCKER_TLS_VERIFY "1";\n' +
        `set -gx DOCKER_HOST "${URL}";\n` +
        `set -gx DOCKER_CERT_PATH "${dir}";\n` +
        'set -gx DOCKER_MACHINE_NAME "web";\n' +
        '# Run this command to configure your shell: \n' +
        '# eval (moor env web)\n',
    }),
    powershell: () => ({
      args: ['env', '--shell', 'powershell', 'web'],
      stdout:
        '$Env:DOCKER_TLS_VERIFY = "1"\n' +
        `$Env:DOCKER_HOST = "${URL}"\n` +
        `$Env:DOCKER_CERT_PATH = "${dir}"\n` +
        '$Env:DOCKER_MACHINE_NAME = "web"\n' +
        '# Run this command to configure your shell: \n' +
        '# & moor env --shell powershell web | Invoke-Expression\n',
    }),
    cmd: () => ({
      args: ['env', '--shell', 'cmd', 'web'],
      stdout:
        'SET DOCKER_TLS_VERIFY=1\n' +
        `SET DOCKER_HOST=${URL}\n` +
        `SET DOCKER_CERT_PATH=${dir}\n` +
        'SET DOCKER_MACHINE_NAME=web\n' +
        'REM Run this command to configure your shell: \n' +
        `REM \t@FOR /f "tokens=*" %i IN ('moor env --shell cmd web') DO @%i\n`,
    }),
    tcsh: () => ({
      args: ['env', '--shell', 'tcsh', 'web'],
      stdout:
        'setenv DOCKER_TLS_VERIFY "1";\n' +
        `setenv DOCKER_HOST "${URL}";\n` +
        `setenv DOCKER_CERT_PATH "${dir}";\n` +
        'setenv DOCKER_MACHINE_NAME "web";\n' +
        ': Run this command to configure your shell: \n' +
        ': eval `moor env --shell tcsh web`\n',
    }),
    emacs: () => ({
      args: ['env', '--shell', 'emacs', 'web'],
      stdout:
        '(setenv "DOCKER_TLS_VERIFY" "1")\n' +
        `(setenv "DOCKER_HOST" "${URL}")\n` +
        `(setenv "DOCKER_CERT_PATH" "${dir}")\n` +
        '(setenv "DOCKER_MACHINE_NAME" "web")\n' +
        ';; Run this command to configure your shell: \n' +
        ';; (with-temp-buffer (shell-command "moor env --shell emacs web" (current-buffer)) (eval-buffer))\n',
    }),
  };

  it('prints the exact commands for every shell, with a warning on stderr and exit 0', async () => {
    const cases = Object.entries(expected).map(([shell, make]) => ({ shell, ...make() }));
    const results = await Promise.all(cases.map((c) => store.moor(c.args, c.env ? { env: c.env } : {})));
    cases.forEach((c, index) => {
      const result = results[index]!;
      assertExit(result, 0, c.shell);
      assert.equal(result.stdout, c.stdout, c.shell);
      assert.match(result.stderr, WARNING, `${c.shell}: warning on stderr`);
    });
  });

  it('--unset prints the unset commands (no machine needed, no warning)', async () => {
    const [bash, fish, powershell, cmd, tcsh, emacs] = await Promise.all([
      store.moor(['env', '--unset']),
      store.moor(['env', '--unset', '--shell', 'fish']),
      store.moor(['env', '-u', '--shell', 'powershell']),
      store.moor(['env', '-u', '--shell', 'cmd']),
      store.moor(['env', '-u', '--shell', 'tcsh']),
      store.moor(['env', '-u', '--shell', 'emacs']),
    ]);
    const names = ['DOCKER_TLS_VERIFY', 'DOCKER_HOST', 'DOCKER_CERT_PATH', 'DOCKER_MACHINE_NAME'];
    const lines = (render: (name: string) => string) => names.map((name) => `${render(name)}\n`).join('');
    assertExit(bash, 0);
    assert.equal(
      bash.stdout,
      lines((n) => `unset ${n}`) + '# Run this command to configure your shell: \n# eval $(moor env --unset)\n',
    );
    assert.equal(bash.stderr, '');
    assert.equal(
      fish.stdout,
      lines((n) => `set -e ${n};`) +
        '# Run this command to configure your shell: \n# eval (moor env --unset --shell fish)\n',
    );
    assert.equal(
      powershell.stdout,
      lines((n) => `Remove-Item Env:\\\\${n}`) +
        '# Run this command to configure your shell: \n# & moor env -u --shell powershell | Invoke-Expression\n',
    );
    assert.equal(
      cmd.stdout,
      lines((n) => `SET ${n}=`) +
        `REM Run this command to configure your shell: \nREM \t@FOR /f "tokens=*" %i IN ('moor env -u --shell cmd') DO @%i\n`,
    );
    assert.equal(
      tcsh.stdout,
      lines((n) => `unsetenv ${n};`) +
        ': Run this command to configure your shell: \n: eval `moor env -u --shell tcsh`\n',
    );
    assert.equal(
      emacs.stdout,
      lines((n) => `(setenv "${n}" nil)`) +
        ';; Run this command to configure your shell: \n' +
        ';; (with-temp-buffer (shell-command "moor env -u --shell emacs" (current-buffer)) (eval-buffer))\n',
    );
    for (const result of [fish, powershell, cmd, tcsh, emacs]) assertExit(result, 0);
  });

  it('--no-proxy adds the IP to NO_PROXY, or to no_proxy when that is the one set', async () => {
    const [upper, lower, unsetEnv, already] = await Promise.all([
      store.moor(['env', '--no-proxy', 'web'], { env: { NO_PROXY: 'localhost' } }),
      store.moor(['env', '--no-proxy', 'web'], { env: { no_proxy: 'localhost' } }),
      store.moor(['env', '--no-proxy', 'web']),
      store.moor(['env', '--no-proxy', 'web'], { env: { NO_PROXY: 'localhost,127.0.0.1' } }),
    ]);
    const head =
      'export DOCKER_TLS_VERIFY="1"\n' +
      `export DOCKER_HOST="${URL}"\n` +
      `export DOCKER_CERT_PATH="${dir}"\n` +
      'export DOCKER_MACHINE_NAME="web"\n';
    const tail = '# Run this command to configure your shell: \n# eval $(moor env --no-proxy web)\n';
    for (const result of [upper, lower, unsetEnv, already]) {
      assertExit(result, 0);
      assert.match(result.stderr, WARNING);
    }
    assert.equal(upper.stdout, `${head}export NO_PROXY="localhost,127.0.0.1"\n${tail}`);
    assert.equal(lower.stdout, `${head}export no_proxy="localhost,127.0.0.1"\n${tail}`);
    assert.equal(unsetEnv.stdout, `${head}export NO_PROXY="127.0.0.1"\n${tail}`);
    assert.equal(already.stdout, `${head}export NO_PROXY="localhost,127.0.0.1"\n${tail}`);
  });

  it('--unset --no-proxy removes the IP from NO_PROXY again', async () => {
    const result = await store.moor(['env', '--unset', '--no-proxy', 'web'], {
      env: { NO_PROXY: 'localhost,127.0.0.1' },
    });
    assertExit(result, 0);
    assert.equal(
      result.stdout,
      'export NO_PROXY="localhost"\n' +
        'unset DOCKER_TLS_VERIFY\nunset DOCKER_HOST\nunset DOCKER_CERT_PATH\nunset DOCKER_MACHINE_NAME\n' +
        '# Run this command to configure your shell: \n# eval $(moor env --unset --no-proxy web)\n',
    );
  });

  it("--unset --no-proxy without a name (Docker Machine's form) unsets the no-proxy variable too", async () => {
    const [upper, lower] = await Promise.all([
      store.moor(['env', '-u', '--no-proxy'], { env: { NO_PROXY: 'localhost' } }),
      store.moor(['env', '-u', '--no-proxy'], { env: { no_proxy: 'localhost' } }),
    ]);
    const unsets = 'unset DOCKER_TLS_VERIFY\nunset DOCKER_HOST\nunset DOCKER_CERT_PATH\nunset DOCKER_MACHINE_NAME\n';
    const hint = '# Run this command to configure your shell: \n# eval $(moor env -u --no-proxy)\n';
    assertExit(upper, 0);
    assert.equal(upper.stdout, `${unsets}unset NO_PROXY\n${hint}`);
    assertExit(lower, 0);
    assert.equal(lower.stdout, `${unsets}unset no_proxy\n${hint}`);
  });

  it('rejects an unknown --shell with exit 2', async () => {
    const result = await store.moor(['env', '--shell', 'nosuchshell', 'web']);
    assertExit(result, 2);
    assert.ok(result.stderr.includes('Unknown shell "nosuchshell"'), result.stderr);
    assert.equal(result.stdout, '');
  });

  it('bash: eval "$(moor env web)" sets the variables', async () => {
    // Run from the repository, exactly as a user would type it there.
    const script =
      'eval "$(node bin/run.cjs env web)"; echo $DOCKER_HOST; ' +
      'echo "$DOCKER_TLS_VERIFY"; echo "$DOCKER_CERT_PATH"; echo "$DOCKER_MACHINE_NAME"';
    const result = await run('bash', ['-c', script], { cwd: ROOT, env: { MOOR_STORAGE_PATH: store.root } });
    assertExit(result, 0);
    assert.equal(result.stdout, `${URL}\n1\n${dir}\nweb\n`);
  });

  it('bash: the documented unquoted eval $(moor env web), then eval $(moor env -u)', async () => {
    const script =
      `eval $(node ${JSON.stringify(BIN)} env web); echo "$DOCKER_HOST"; ` +
      `eval $(node ${JSON.stringify(BIN)} env -u); echo "[\${DOCKER_HOST-unset}]"`;
    const result = await run('bash', ['-c', script], { env: { MOOR_STORAGE_PATH: store.root } });
    assertExit(result, 0);
    assert.equal(result.stdout, `${URL}\n[unset]\n`);
  });

  // CI installs tcsh (.ci/run): there a missing tcsh fails the test.
  const tcshMissing = programMissing('tcsh', ['-f', '-c', 'true'], 'apt-get install tcsh');

  it('tcsh: eval `moor env --shell tcsh web` sets the variables', async (t) => {
    if (!needs(t, tcshMissing)) return;
    const script = `eval \`node ${BIN} env --shell tcsh web\`; echo "$DOCKER_HOST"; echo "$DOCKER_CERT_PATH"`;
    const result = await run('tcsh', ['-f', '-c', script], { env: { MOOR_STORAGE_PATH: store.root } });
    assertExit(result, 0);
    assert.equal(result.stdout, `${URL}\n${dir}\n`);
  });
});
