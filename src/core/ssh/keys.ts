/** Key files and host keys: generation, permission checks, fingerprints and pins. */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
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
  const pair = ed25519KeyPair(`moor-${name}`);
  await ensureDir(dir);
  const privateKeyPath = join(dir, name);
  const publicKey = pair.public.trim();
  await writeFileAtomic(privateKeyPath, pair.private, PRIVATE_FILE_MODE);
  await writeFileAtomic(`${privateKeyPath}.pub`, `${publicKey}\n`, PUBLIC_FILE_MODE);
  return { privateKeyPath, publicKey };
}

/**
 * A new ed25519 key pair in OpenSSH's formats: the private key file (openssh-key-v1, unencrypted) and the
 * public key line. Written here on node:crypto rather than by ssh2's generateKeyPair, which strips leading
 * zero bytes from the 32-byte public key, so that about one key in 256 is one that ssh2 itself and OpenSSH
 * refuse (mscdex/ssh2#1390, #1513).
 */
export function ed25519KeyPair(comment: string): { private: string; public: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // The raw keys are the last 32 bytes of their DER forms (SubjectPublicKeyInfo; PKCS#8's OCTET STRING).
  const pub = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  const seed = privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(-32);
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.concat([sshString(type), sshString(pub)]);
  const check = randomBytes(4);
  let secret = Buffer.concat([
    check,
    check,
    sshString(type),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(Buffer.from(comment)),
  ]);
  // Padded with 1, 2, 3... to the cipher's block size (8 for "none").
  const padding = (8 - (secret.length % 8)) % 8;
  secret = Buffer.concat([secret, Buffer.from(Array.from({ length: padding }, (_, i) => i + 1))]);
  const none = sshString(Buffer.from('none'));
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    none,
    none,
    sshString(Buffer.alloc(0)),
    uint32(1),
    sshString(blob),
    sshString(secret),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return {
    private: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    public: `ssh-ed25519 ${blob.toString('base64')} ${comment}`,
  };
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

/** SSH's string: a uint32 length, then the bytes. */
function sshString(data: Buffer): Buffer {
  return Buffer.concat([uint32(data.length), data]);
}

/**
 * Refuses a private key that moor could not use, before anything depends on it: missing, not a file,
 * readable by group or others (ssh would refuse it too), not a private key at all (a .pub file, garbage),
 * or protected by a passphrase. The message names `path` (give the file the user named) and the fix.
 */
export async function checkPrivateKey(path: string): Promise<void> {
  await readPrivateKey(path);
}

/**
 * Reads and parses a private key, with checkPrivateKey's checks. `given` is the file the user named when
 * `path` is moor's copy of it (messages name both).
 */
export async function readPrivateKey(path: string, given?: string): Promise<Buffer> {
  const shown = given && given !== path ? `${given} (moor's copy: ${path})` : path;
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT', 'ENOTDIR')) {
      throw new MoorError(`SSH private key ${shown} does not exist.`, {
        code: 'SSH_KEY_MISSING',
        suggestions: ['Check the path to the key (for the private key, not the .pub file).'],
        cause: error,
      });
    }
    if (isErrno(error, 'EACCES')) {
      throw new MoorError(`SSH private key ${shown} cannot be read: permission denied.`, {
        code: 'SSH_KEY_UNREADABLE',
        cause: error,
      });
    }
    throw error;
  }
  if (!info.isFile()) {
    throw new MoorError(`SSH private key ${shown} is not a file.`, { code: 'SSH_KEY_MISSING' });
  }
  // Windows has no POSIX permission bits: stat reports 0o666 for every file there.
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    throw new MoorError(
      `SSH private key ${shown} is accessible by others (mode ${mode}), so ssh would refuse it and so does moor: ` +
        `run "chmod 600 ${path}".`,
      { code: 'SSH_KEY_PERMISSIONS' },
    );
  }
  const data = await readFile(path);
  const problem = await privateKeyProblem(data);
  if (problem === 'encrypted') {
    throw new MoorError(`SSH private key ${shown} is protected by a passphrase, which moor cannot enter.`, {
      code: 'SSH_KEY_ENCRYPTED',
      suggestions: [
        `Remove the passphrase from a copy of the key: cp ${given ?? path} KEY && ssh-keygen -p -N "" -f KEY, then give KEY.`,
        'Or leave out the key and load it into your SSH agent (ssh-add), where the driver can use an agent.',
      ],
    });
  }
  if (problem === 'public') {
    throw new MoorError(`SSH private key ${shown} is a public key, not a private one.`, {
      code: 'SSH_KEY_INVALID',
      suggestions: [
        /\.pub$/.test(given ?? path)
          ? `Give the private key: ${(given ?? path).replace(/\.pub$/, '')}.`
          : 'Give the private key (the file without .pub).',
      ],
    });
  }
  if (problem !== undefined) {
    throw new MoorError(`SSH private key ${shown} is not a private key moor can read (${problem}).`, {
      code: 'SSH_KEY_INVALID',
      suggestions: [
        'Use an OpenSSH or PEM private key (ed25519, ECDSA or RSA), e.g. one made by ssh-keygen -t ed25519.',
      ],
    });
  }
  return data;
}

/** Why `data` is not a usable private key: 'encrypted', 'public', another reason, or undefined when it is. */
async function privateKeyProblem(data: Buffer): Promise<string | undefined> {
  const { utils } = await loadSsh2();
  const parsed = utils.parseKey(data);
  const key = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
  if (key instanceof Error) {
    if (/encrypted|passphrase/i.test(key.message)) return 'encrypted';
    return /unsupported key format/i.test(key.message) ? 'not a key format moor knows' : key.message;
  }
  if (key === undefined || key === null) return 'no key found';
  return (key as { isPrivateKey(): boolean }).isPrivateKey() ? undefined : 'public';
}
