/** Key files and host keys: generation, permission checks, fingerprints and pins. */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MoorError } from '../errors.js';
import { ensureDir, isErrno, PRIVATE_FILE_MODE, writeFileAtomic } from '../fsutil.js';
import { loadSsh2 } from './load.js';
import { abbreviate } from '../values.js';

const PUBLIC_FILE_MODE = 0o644;

/**
 * The OpenSSH fingerprint of a host key: 'SHA256:' and the unpadded base64 of the SHA-256 of the key's
 * wire form. Accepts the wire form itself (a Buffer), a public key line ('ssh-ed25519 AAAA... comment')
 * or a fingerprint, which is returned as it is.
 */
export function fingerprint(hostKey: string | Buffer): string {
  if (typeof hostKey === 'string') {
    const trimmed = hostKey.trim();
    if (trimmed.startsWith('SHA256:')) return trimmed.replace(/=+$/, '');
    return fingerprint(parsePublicKeyLine(trimmed).blob);
  }
  return `SHA256:${createHash('sha256').update(hostKey).digest('base64').replace(/=+$/, '')}`;
}

/** The OpenSSH public key line ('ssh-ed25519 AAAA...') of a key in wire form. */
export function publicKeyLine(blob: Buffer): string {
  return `${keyType(blob)} ${blob.toString('base64')}`;
}

/** The algorithm name a key in wire form starts with ('ssh-ed25519'). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  if (length > 64 || 4 + length > blob.length) return 'unknown';
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** Splits 'TYPE BASE64 [comment]' into the type and the decoded key; a malformed line is a MoorError. */
export function parsePublicKeyLine(line: string): { type: string; blob: Buffer } {
  const [type, data] = line.trim().split(/\s+/);
  const blob = data && /^[A-Za-z0-9+/]+={0,2}$/.test(data) ? Buffer.from(data, 'base64') : undefined;
  if (!type || !blob || keyType(blob) !== type) {
    throw new MoorError(
      `"${abbreviate(line, 40)}" is not an SSH public key: expected "ssh-ed25519 AAAA..." or a "SHA256:..." fingerprint.`,
      { code: 'SSH_BAD_HOST_KEY' },
    );
  }
  return { type, blob };
}

/** What a pinned host key is: a full key (compared byte for byte) or a fingerprint. */
export type HostKeyPin = { kind: 'key'; type: string; blob: Buffer } | { kind: 'fingerprint'; fingerprint: string };

export function parseHostKeyPin(pin: string): HostKeyPin {
  const trimmed = pin.trim();
  if (trimmed.startsWith('SHA256:')) return { kind: 'fingerprint', fingerprint: fingerprint(trimmed) };
  return { kind: 'key', ...parsePublicKeyLine(trimmed) };
}

export function pinMatches(pin: HostKeyPin, blob: Buffer): boolean {
  return pin.kind === 'key' ? pin.blob.equals(blob) : pin.fingerprint === fingerprint(blob);
}

/**
 * Creates an ed25519 key pair in OpenSSH format: DIR/NAME (0600) and DIR/NAME.pub (0644), DIR 0700.
 * Returns the private key's path and the public key line (for authorized_keys or a cloud's key import).
 */
export async function generateKeyPair(
  dir: string,
  name = 'id_ed25519',
): Promise<{ privateKeyPath: string; publicKey: string }> {
  if (name !== basename(name) || name === '' || name.startsWith('.')) {
    throw new MoorError(`Invalid key file name "${name}".`, { code: 'SSH_KEY_INVALID' });
  }
  const { utils } = await loadSsh2();
  const pair = await new Promise<{ private: string; public: string }>((resolve, reject) => {
    utils.generateKeyPair('ed25519', { comment: `moor-${name}` }, (error, keys) =>
      error ? reject(error) : resolve(keys),
    );
  });
  await ensureDir(dir);
  const privateKeyPath = join(dir, name);
  const publicKey = pair.public.trim();
  await writeFileAtomic(privateKeyPath, pair.private, PRIVATE_FILE_MODE);
  await writeFileAtomic(`${privateKeyPath}.pub`, `${publicKey}\n`, PUBLIC_FILE_MODE);
  return { privateKeyPath, publicKey };
}

/**
 * Refuses a private key that is missing, not a file, or readable by group or others (as ssh does, which
 * would refuse it too), with a message that says how to fix it.
 */
export async function checkPrivateKey(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) {
      throw new MoorError(`SSH private key ${path} does not exist.`, {
        code: 'SSH_KEY_MISSING',
        suggestions: ['Check the path to the key (for the private key, not the .pub file).'],
        cause: error,
      });
    }
    if (isErrno(error, 'EACCES')) {
      throw new MoorError(`SSH private key ${path} cannot be read: permission denied.`, {
        code: 'SSH_KEY_UNREADABLE',
        cause: error,
      });
    }
    throw error;
  }
  if (!info.isFile()) {
    throw new MoorError(`SSH private key ${path} is not a file.`, { code: 'SSH_KEY_MISSING' });
  }
  // Windows has no POSIX permission bits: stat reports 0o666 for every file there.
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new MoorError(
      `SSH private key ${path} is accessible by others (mode ${mode}), so ssh would refuse it and so does moor: ` +
        `run "chmod 600 ${path}".`,
      { code: 'SSH_KEY_PERMISSIONS' },
    );
  }
}

/** Reads and parses a private key, so that an encrypted or malformed key fails with a clear message. */
export async function readPrivateKey(path: string): Promise<Buffer> {
  await checkPrivateKey(path);
  const data = await readFile(path);
  const { utils } = await loadSsh2();
  const parsed = utils.parseKey(data);
  const key = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
  if (key instanceof Error || key === undefined) {
    const reason = key instanceof Error ? key.message : 'no key found';
    const encrypted = /encrypted|passphrase/i.test(reason);
    throw new MoorError(`SSH private key ${path} cannot be used: ${reason}.`, {
      code: 'SSH_KEY_INVALID',
      suggestions: encrypted
        ? ['moor needs a key without a passphrase: remove it with "ssh-keygen -p -N \'\' -f KEY" on a copy.']
        : ['Use an OpenSSH or PEM private key (ed25519, ECDSA or RSA).'],
    });
  }
  return data;
}
