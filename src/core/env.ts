/**
 * What `moor env` prints: shell commands that point the Docker client at a machine. The output for
 * ordinary values is byte-identical to Docker Machine's commands/env.go (with `moor` for
 * `docker-machine`), so scripts and editor integrations written against docker-machine keep working.
 * Unlike Docker Machine, values are escaped for the target shell.
 */
import { UsageError } from './errors.js';

export type ShellName = 'bash' | 'zsh' | 'sh' | 'ksh' | 'dash' | 'fish' | 'powershell' | 'cmd' | 'tcsh' | 'emacs';

const SHELL_ALIASES: Readonly<Record<string, ShellName>> = {
  bash: 'bash',
  zsh: 'zsh',
  sh: 'sh',
  ksh: 'ksh',
  dash: 'dash',
  fish: 'fish',
  powershell: 'powershell',
  pwsh: 'powershell',
  cmd: 'cmd',
  tcsh: 'tcsh',
  csh: 'tcsh',
  emacs: 'emacs',
};

/** The names `--shell` accepts. */
export const SUPPORTED_SHELLS: readonly string[] = Object.keys(SHELL_ALIASES);

/** The variables `moor env --unset` clears. */
export const DOCKER_ENV_NAMES: readonly string[] = [
  'DOCKER_TLS_VERIFY',
  'DOCKER_HOST',
  'DOCKER_CERT_PATH',
  'DOCKER_MACHINE_NAME',
];

export interface EnvVar {
  name: string;
  value: string;
}

export type NoProxyName = 'NO_PROXY' | 'no_proxy';

function shellFromPath(shellPath: string, platform: NodeJS.Platform): string {
  const separators = platform === 'win32' ? /[\\/]/ : /\//;
  const base = shellPath.split(separators).pop() ?? '';
  return platform === 'win32' ? base.toLowerCase().replace(/\.exe$/, '') : base;
}

/**
 * The shell named by $SHELL. Shells that are not listed use bash syntax, as in Docker Machine. Without
 * $SHELL: bash, or powershell on Windows (Docker Machine failed there instead).
 */
export function detectShell(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): ShellName {
  const shellPath = env['SHELL'] ?? '';
  if (shellPath === '') return platform === 'win32' ? 'powershell' : 'bash';
  return SHELL_ALIASES[shellFromPath(shellPath, platform)] ?? 'bash';
}

/** The shell to print for: the one requested with --shell (validated), else the detected one. */
export function resolveShell(
  requested: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): ShellName {
  if (requested === undefined || requested === '') return detectShell(env, platform);
  const shell = SHELL_ALIASES[requested.toLowerCase()];
  if (shell === undefined) {
    throw new UsageError(
      `Unknown shell "${requested}". Supported shells: ${SUPPORTED_SHELLS.join(', ')}.`,
      ['Pass one of them with --shell, or leave --shell out to detect the shell from $SHELL.'],
      'UNKNOWN_SHELL',
    );
  }
  return shell;
}

/** The lowercase variable wins when it is non-empty, as in Docker Machine. */
function findNoProxy(env: NodeJS.ProcessEnv): { name: NoProxyName; value: string } {
  const lower = env['no_proxy'] ?? '';
  if (lower !== '') return { name: 'no_proxy', value: lower };
  return { name: 'NO_PROXY', value: env['NO_PROXY'] ?? '' };
}

function isSameEntry(entry: string, ip: string): boolean {
  return entry.trim().toLowerCase() === ip.trim().toLowerCase();
}

/** The no-proxy variable in use: no_proxy when it is set and not empty, else NO_PROXY (as Docker Machine). */
export function noProxyName(env: NodeJS.ProcessEnv = process.env): NoProxyName {
  return findNoProxy(env).name;
}

/** The no-proxy variable with the machine's IP added (`--no-proxy`). */
export function noProxyFor(ip: string, env: NodeJS.ProcessEnv = process.env): { name: NoProxyName; value: string } {
  const { name, value } = findNoProxy(env);
  if (ip === '') return { name, value };
  if (value === '') return { name, value: ip };
  // Whole entries are compared: Docker Machine's substring test took 10.0.0.1 to be in "10.0.0.10".
  if (value.split(',').some((entry) => isSameEntry(entry, ip))) return { name, value };
  return { name, value: `${value},${ip}` };
}

/**
 * The no-proxy variable with the machine's IP removed (`--unset --no-proxy`), or undefined when neither
 * variable is set. The value may be empty when the IP was the only entry; the caller then unsets it.
 */
export function noProxyWithout(
  ip: string,
  env: NodeJS.ProcessEnv = process.env,
): { name: NoProxyName; value: string } | undefined {
  const { name, value } = findNoProxy(env);
  if (value === '') return undefined;
  const entries = value.split(',');
  if (!entries.some((entry) => isSameEntry(entry, ip))) return { name, value };
  return { name, value: entries.filter((entry) => !isSameEntry(entry, ip)).join(',') };
}

export function dockerEnvVars(
  machine: { name: string; dockerHost: string; certPath: string; tlsVerify: boolean },
  options: { platform?: NodeJS.Platform; noProxy?: { name: string; value: string } } = {},
): EnvVar[] {
  const vars: EnvVar[] = [];
  if (machine.tlsVerify) vars.push({ name: 'DOCKER_TLS_VERIFY', value: '1' });
  vars.push({ name: 'DOCKER_HOST', value: machine.dockerHost });
  if (machine.tlsVerify) vars.push({ name: 'DOCKER_CERT_PATH', value: machine.certPath });
  vars.push({ name: 'DOCKER_MACHINE_NAME', value: machine.name });
  if ((options.platform ?? process.platform) === 'win32') {
    vars.push({ name: 'COMPOSE_CONVERT_WINDOWS_PATHS', value: 'true' });
  }
  if (options.noProxy !== undefined) vars.push({ name: options.noProxy.name, value: options.noProxy.value });
  return vars;
}

interface Syntax {
  prefix: string;
  delimiter: string;
  suffix: string;
}

interface ShellSyntax {
  set: Syntax;
  unset: Syntax;
  comment: string;
  escape: (value: string, name: string) => string;
  usage: (commandLine: string) => string;
}

function backslashEscape(value: string, specials: RegExp): string {
  return value.replace(specials, (char) => `\\${char}`);
}

function unsafeValue(name: string, shell: ShellName, problem: string, suggestion: string): UsageError {
  return new UsageError(
    `Cannot print ${name} for ${shell}: its value contains ${problem}.`,
    [suggestion],
    'UNSAFE_ENV_VALUE',
  );
}

/**
 * csh double quotes cannot hold `"`, and `$`, backquote and `!` are substituted inside them, so each of
 * these (and backslash) is closed out of the quotes and backslash-escaped: a"b -> "a"\""b".
 */
function tcshEscape(value: string): string {
  return value.replace(/["$`\\!]/g, (char) => `"\\${char}"`);
}

function cmdEscape(value: string, name: string): string {
  const forbidden = /["&|<>^%]/.exec(value);
  if (forbidden !== null) {
    throw unsafeValue(
      name,
      'cmd',
      `'${forbidden[0]}', which cmd cannot quote`,
      'Use another shell with --shell, for example powershell.',
    );
  }
  return value;
}

const POSIX_SYNTAX: ShellSyntax = {
  set: { prefix: 'export ', delimiter: '="', suffix: '"\n' },
  unset: { prefix: 'unset ', delimiter: '', suffix: '\n' },
  comment: '#',
  escape: (value) => backslashEscape(value, /[\\"$`]/g),
  usage: (commandLine) => `eval $(${commandLine})`,
};

const SHELL_SYNTAX: Record<ShellName, ShellSyntax> = {
  bash: POSIX_SYNTAX,
  zsh: POSIX_SYNTAX,
  sh: POSIX_SYNTAX,
  ksh: POSIX_SYNTAX,
  dash: POSIX_SYNTAX,
  fish: {
    set: { prefix: 'set -gx ', delimiter: ' "', suffix: '";\n' },
    unset: { prefix: 'set -e ', delimiter: '', suffix: ';\n' },
    comment: '#',
    escape: (value) => backslashEscape(value, /[\\"$]/g),
    usage: (commandLine) => `eval (${commandLine})`,
  },
  powershell: {
    set: { prefix: '$Env:', delimiter: ' = "', suffix: '"\n' },
    unset: { prefix: 'Remove-Item Env:\\\\', delimiter: '', suffix: '\n' },
    comment: '#',
    // PowerShell also ends double-quoted strings at typographic double quotes.
    escape: (value) => value.replace(/[`"$\u201C\u201D\u201E]/g, (char) => `\`${char}`),
    usage: (commandLine) => `& ${commandLine} | Invoke-Expression`,
  },
  cmd: {
    set: { prefix: 'SET ', delimiter: '=', suffix: '\n' },
    unset: { prefix: 'SET ', delimiter: '=', suffix: '\n' },
    comment: 'REM',
    escape: cmdEscape,
    usage: (commandLine) => `\t@FOR /f "tokens=*" %i IN ('${commandLine}') DO @%i`,
  },
  tcsh: {
    set: { prefix: 'setenv ', delimiter: ' "', suffix: '";\n' },
    unset: { prefix: 'unsetenv ', delimiter: '', suffix: ';\n' },
    comment: ':',
    escape: tcshEscape,
    usage: (commandLine) => `eval \`${commandLine}\``,
  },
  emacs: {
    set: { prefix: '(setenv "', delimiter: '" "', suffix: '")\n' },
    unset: { prefix: '(setenv "', delimiter: '" nil', suffix: ')\n' },
    comment: ';;',
    escape: (value) => backslashEscape(value, /[\\"]/g),
    usage: (commandLine) => `(with-temp-buffer (shell-command "${commandLine}" (current-buffer)) (eval-buffer))`,
  },
};

/** The program path is quoted when it contains a space or backslash, as Docker Machine did. */
function formatCommandLine(commandLine: string[]): string {
  const [program = '', ...args] = commandLine;
  const quotedProgram = program.includes(' ') || program.includes('\\') ? `"${program}"` : program;
  return [quotedProgram, ...args].join(' ');
}

function escapeValue(shell: ShellName, name: string, value: string): string {
  // The documented eval commands split the output on whitespace or by line, so a line break or tab
  // would be lost or break the command; refuse rather than set a different value.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw unsafeValue(
      name,
      shell,
      'a control character (such as a line break or tab)',
      'Use values without control characters.',
    );
  }
  return SHELL_SYNTAX[shell].escape(value, name);
}

/** Set variables in order, then unset variables, then the usage hint. */
export function renderEnv(options: {
  shell: ShellName;
  set: EnvVar[];
  unset: string[];
  commandLine: string[];
}): string {
  const syntax = SHELL_SYNTAX[options.shell];
  let output = '';
  for (const { name, value } of options.set) {
    const { prefix, delimiter, suffix } = syntax.set;
    output += `${prefix}${name}${delimiter}${escapeValue(options.shell, name, value)}${suffix}`;
  }
  for (const name of options.unset) {
    const { prefix, delimiter, suffix } = syntax.unset;
    output += `${prefix}${name}${delimiter}${suffix}`;
  }
  const command = syntax.usage(formatCommandLine(options.commandLine));
  output += `${syntax.comment} Run this command to configure your shell: \n${syntax.comment} ${command}\n`;
  return output;
}
