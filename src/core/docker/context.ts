/**
 * The docker CLI's own context store, written the way the CLI writes it, so that `docker context ls`,
 * `docker --context NAME` and every tool built on the CLI's config see moor's machines:
 *   $DOCKER_CONFIG (default ~/.docker)/contexts/meta/<sha256(name)>/meta.json
 *   $DOCKER_CONFIG/contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem
 *   $DOCKER_CONFIG/config.json "currentContext"
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MoorError, messageOf } from '../errors.js';
import { CERT_FILE_MODE, ensureDir, isErrno, pathExists, PRIVATE_FILE_MODE, writeFileAtomic } from '../fsutil.js';
import { isObject } from '../values.js';

export interface ContextEndpoint {
  host: string;
  /** PEM contents, for a TLS endpoint. */
  tls?: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer };
}

export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['DOCKER_CONFIG'] || join(homedir(), '.docker');
}

/**
 * The folder name the docker CLI uses for a context: the hex SHA-256 of its name. (node:crypto is loaded
 * here, on first use, not when `ls` starts.)
 */
export async function contextId(name: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256').update(name).digest('hex');
}

export class DockerContexts {
  constructor(readonly configDir: string = dockerConfigDir()) {}

  private async metaDir(name: string): Promise<string> {
    return join(this.configDir, 'contexts', 'meta', await contextId(name));
  }

  private async tlsDir(name: string): Promise<string> {
    return join(this.configDir, 'contexts', 'tls', await contextId(name));
  }

  /** Creates or replaces a context. */
  async write(name: string, description: string, endpoint: ContextEndpoint): Promise<void> {
    const meta = {
      Name: name,
      Metadata: { Description: description },
      Endpoints: { docker: { Host: endpoint.host, SkipTLSVerify: false } },
    };
    const [metaDir, tlsDir] = await Promise.all([this.metaDir(name), this.tlsDir(name)]);
    await ensureDir(metaDir);
    await writeFileAtomic(join(metaDir, 'meta.json'), JSON.stringify(meta), PRIVATE_FILE_MODE);
    await rm(tlsDir, { recursive: true, force: true });
    if (endpoint.tls) {
      const dir = join(tlsDir, 'docker');
      await ensureDir(dir);
      await writeFileAtomic(join(dir, 'ca.pem'), endpoint.tls.ca, CERT_FILE_MODE);
      await writeFileAtomic(join(dir, 'cert.pem'), endpoint.tls.cert, CERT_FILE_MODE);
      await writeFileAtomic(join(dir, 'key.pem'), endpoint.tls.key, PRIVATE_FILE_MODE);
    }
  }

  async exists(name: string): Promise<boolean> {
    return pathExists(join(await this.metaDir(name), 'meta.json'));
  }

  async remove(name: string): Promise<void> {
    await rm(await this.metaDir(name), { recursive: true, force: true });
    await rm(await this.tlsDir(name), { recursive: true, force: true });
  }

  /** The CLI's current context ("default" when none is set). */
  async current(): Promise<string> {
    const value = (await this.readConfig())['currentContext'];
    return typeof value === 'string' && value !== '' ? value : 'default';
  }

  /** Sets (or, with "default", clears) the current context, keeping everything else in config.json. */
  async setCurrent(name: string): Promise<void> {
    const config = await this.readConfig();
    if (name === 'default') delete config['currentContext'];
    else config['currentContext'] = name;
    await ensureDir(this.configDir);
    await writeFileAtomic(
      join(this.configDir, 'config.json'),
      `${JSON.stringify(config, null, '\t')}\n`,
      PRIVATE_FILE_MODE,
    );
  }

  private async readConfig(): Promise<Record<string, unknown>> {
    const file = join(this.configDir, 'config.json');
    let text: string;
    try {
      // A small file read on every `ls`: synchronously, without a thread-pool round trip.
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return {};
      throw error;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (isObject(value)) return value;
      throw new Error('not a JSON object');
    } catch (error) {
      throw new MoorError(`The docker CLI's ${file} cannot be read: ${messageOf(error)}.`, {
        code: 'DOCKER_CONFIG_INVALID',
        suggestions: [`Fix ${file} (it must be a JSON object), then try again.`],
      });
    }
  }
}

/** The context moor keeps for a machine. */
export function contextName(machine: string): string {
  return `moor-${machine}`;
}
