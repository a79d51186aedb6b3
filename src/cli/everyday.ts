/**
 * What the everyday read-only commands (env, url, inspect, ls, active) do once their command line is
 * read: one function each, called by the oclif command and by the fast path (src/fast.ts), so that both
 * print the same bytes. No oclif here. `print` receives stdout's text (nothing is printed under --json).
 */
import type { Logger } from '../core/log.js';
import type { Moor } from '../core/moor.js';

export interface EverydayContext {
  /** The core service (built on first use). */
  moor(): Promise<Moor>;
  logger: Logger;
  /** Writes to stdout (a no-op under --json). */
  print(text: string): void;
  /** The command's id ("env") and the words that followed it, for the comment env prints. */
  id: string;
  argv: string[];
  bin: string;
  env: NodeJS.ProcessEnv;
  /** The command answers with a JSON document (--json): what it returns is the output. */
  json?: boolean;
}

/** Names given on the command line, or "default" when none was given and it exists (as docker-machine). */
export async function namesOrDefault(moor: Moor, given: string[], commandId: string): Promise<string[]> {
  if (given.length > 0) return given;
  if (await moor.store.exists('default')) return ['default'];
  const { UsageError } = await import('../core/errors.js');
  throw new UsageError(
    'No machine name(s) specified and no "default" machine exists.',
    ['Name a machine, e.g. "moor ' + commandId + ' NAME"; "moor ls" lists them.'],
    'NO_DEFAULT_MACHINE',
  );
}

async function oneName(context: EverydayContext, name: string | undefined): Promise<string> {
  const [resolved] = await namesOrDefault(await context.moor(), name ? [name] : [], context.id);
  return resolved!;
}

export interface EnvFlags {
  shell?: string | undefined;
  unset: boolean;
  'no-proxy': boolean;
  /** NAME is a swarm member or the swarm's name: point at a reachable manager of that swarm. */
  swarm?: boolean | undefined;
}

export async function envCommand(context: EverydayContext, flags: EnvFlags, given: string | undefined) {
  const env = await import('../core/env.js');
  const shell = env.resolveShell(flags.shell);
  const commandLine = [context.bin, context.id, ...context.argv];
  if (flags.unset) {
    let set: { name: string; value: string }[] = [];
    const unset = [...env.DOCKER_ENV_NAMES];
    if (flags['no-proxy'] && given) {
      const [ip] = (await (await context.moor()).ip([given])).map(({ result }) => result);
      const remaining = env.noProxyWithout(ip!);
      if (remaining && remaining.value !== '') set = [remaining];
      else if (remaining) unset.push(remaining.name);
    } else if (flags['no-proxy']) {
      // Docker Machine's form (no NAME): the no-proxy variable is unset as a whole.
      unset.push(env.noProxyName());
    }
    context.print(env.renderEnv({ shell, set, unset, commandLine }));
    return { shell, set, unset };
  }
  const named = await oneName(context, given);
  const name = flags.swarm ? await (await context.moor()).swarms.managerOf(named) : named;
  const { connection, warning } = await (await context.moor()).connection(name, true);
  const vars = env.dockerEnvVars(
    { name, dockerHost: connection.url, certPath: connection.certPath, tlsVerify: connection.tlsVerify },
    flags['no-proxy'] && connection.ip ? { noProxy: env.noProxyFor(connection.ip) } : {},
  );
  // A tunnel's socket speaks plain HTTP: TLS variables left from another machine would break it.
  // (only those this shell has: some shells complain about unsetting what is not set).
  const unset = connection.tunnel
    ? ['DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH'].filter((key) => context.env[key] !== undefined)
    : [];
  context.print(env.renderEnv({ shell, set: vars, unset, commandLine }));
  if (warning) context.logger.warn(warning);
  if (connection.tunnel) {
    const { pid, started } = connection.tunnel;
    context.logger.info(
      `${name} uses the ssh transport: DOCKER_HOST is its background tunnel (pid ${pid}${started ? ', started now' : ''}); "moor tunnel --stop ${name}" stops it.`,
    );
  }
  return {
    shell,
    set: vars,
    unset,
    ...(connection.tunnel ? { tunnel: connection.tunnel } : {}),
    ...(warning ? { warning } : {}),
  };
}

export async function urlCommand(context: EverydayContext, given: string | undefined) {
  const name = await oneName(context, given);
  const url = await (await context.moor()).url(name);
  context.print(`${url}\n`);
  return { name, url };
}

export async function inspectCommand(context: EverydayContext, flags: { format?: string | undefined }, given?: string) {
  const name = await oneName(context, given);
  const view = await (await context.moor()).inspect(name);
  if (flags.format) {
    const { compileTemplate } = await import('../core/format/index.js');
    context.print(`${compileTemplate(flags.format).render(view)}\n`);
  } else {
    context.print(`${JSON.stringify(view, null, 4)}\n`);
  }
  return view;
}

export async function activeCommand(context: EverydayContext, flags: { timeout: number }) {
  const name = await (await context.moor()).active(flags.timeout * 1000);
  context.print(`${name}\n`);
  return { name };
}

export const DEFAULT_LS_COLUMNS =
  '{{.Name}}\t{{.Active}}\t{{.DriverName}}\t{{.State}}\t{{.URL}}\t{{.Swarm}}\t{{.DockerVersion}}\t{{.Error}}';
const LS_HEADERS = {
  Name: 'NAME',
  Active: 'ACTIVE',
  ActiveHost: 'ACTIVE',
  DriverName: 'DRIVER',
  State: 'STATE',
  URL: 'URL',
  Swarm: 'SWARM',
  DockerVersion: 'DOCKER',
  Error: 'ERRORS',
  ResponseTime: 'RESPONSE',
  Labels: 'LABELS',
  Tunnel: 'TUNNEL',
};

export interface LsFlags {
  filter?: string[] | undefined;
  quiet: boolean;
  timeout: number;
  format?: string | undefined;
}

export async function lsCommand(context: EverydayContext, flags: LsFlags) {
  if (flags.quiet && !context.json && (flags.filter ?? []).length === 0) {
    // Names only, as Docker Machine's ls -q without a filter: no record read, no machine asked.
    const names = await (await context.moor()).names();
    context.print(names.map((name) => `${name}\n`).join(''));
    return names;
  }
  // The template loads and compiles while the machines are queried.
  const [compiled, items] = await Promise.all([
    flags.quiet ? undefined : compileFormat(flags.format),
    context.moor().then((moor) =>
      moor.list({
        filters: flags.filter ?? [],
        timeoutMs: flags.timeout * 1000,
        queryDockerVersion: !flags.quiet && showsDockerVersion(flags.format),
        dockerHost: context.env['DOCKER_HOST'],
      }),
    ),
  ]);
  // The default table grows a TUNNEL column while some machine has a background tunnel.
  const format =
    compiled && flags.format === undefined && items.some((item) => item.Tunnel !== '')
      ? await compileFormat(`table ${DEFAULT_LS_COLUMNS}\t{{.Tunnel}}`)
      : compiled;
  if (!format) {
    context.print(items.map((item) => `${item.Name}\n`).join(''));
  } else if (format.table) {
    const lines = [format.template.render(LS_HEADERS), ...items.map((item) => format.template.render(item))];
    context.print(format.tabularize(lines.map((line) => `${line}\n`).join('')));
  } else {
    context.print(items.map((item) => `${format.template.render(item)}\n`).join(''));
  }
  return items;
}

/** Whether the output has the DOCKER column (the default table, `table` alone, or a format naming it). */
function showsDockerVersion(format: string | undefined): boolean {
  return format === undefined || /^\s*table\s*$/.test(format) || format.includes('DockerVersion');
}

/** The --format template (docker-machine's default table when none is given); `table` alone means the default columns. */
async function compileFormat(source: string | undefined) {
  const { compileTemplate, splitTableFormat, tabularize } = await import('../core/format/index.js');
  const split = splitTableFormat(source ?? `table ${DEFAULT_LS_COLUMNS}`);
  const body = split.table && split.body === '' ? DEFAULT_LS_COLUMNS : split.body;
  return { table: split.table, template: compileTemplate(body), tabularize };
}
