/**
 * TLS material for talking to Docker engines, as Docker Machine made it (cert/cert.go, cert/bootstrap.go):
 * one CA per store that signs one client certificate (<store>/certs) and a server certificate per machine.
 * Docker Machine used RSA 2048 keys; moor makes ECDSA P-256 keys (SEC 1 PEM: see generateKey) and still reads
 * RSA ones. SHA-256 signatures, 1080 days of validity starting 5 minutes in the past to absorb clock skew
 * between this host and new machines. The certificates are written by ./x509.ts and signed by node:crypto.
 */
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { p256PrivateKeyFromPem } from './ec-keys.js';
import { MoorError, UsageError } from './errors.js';
import { CERT_FILE_MODE, ensureDir, isErrno, PRIVATE_FILE_MODE, writeFileAtomic } from './fsutil.js';
import type { Store } from './store.js';
import { isIP } from './values.js';
import { createCertificate, type CertificateRequest, issuerFields, UnsupportedKeyError } from './x509.js';

export interface CertPair {
  certPem: string;
  keyPem: string;
}

/** Absolute paths of the CA and client files in use. */
export interface CertPaths {
  caCert: string;
  caKey: string;
  clientCert: string;
  clientKey: string;
}

/** User-given files (--tls-ca-cert, --tls-ca-key, --tls-client-cert, --tls-client-key). */
export interface ExternalCertOptions {
  caCert?: string;
  caKey?: string;
  clientCert?: string;
  clientKey?: string;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
  /** Upper-case hexadecimal, as node:crypto prints it. */
  serialNumber: string;
}

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';
export const CLIENT_CERT_FILE = 'cert.pem';
export const CLIENT_KEY_FILE = 'key.pem';

const VALIDITY_DAYS = 1080;
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Docker Machine's organization suffix for the client certificate, kept verbatim. */
const CLIENT_ORG_SUFFIX = '<bootstrap>';

interface LoadedCa {
  certPath: string;
  keyPath: string;
  cert: X509Certificate;
  key: KeyObject;
  /** The certificate's file as read (a machine folder's ca.pem is a copy of it). */
  certPem: string;
}

/** A client certificate and key in use, with their files' contents. */
interface ClientFiles extends FilePair {
  certPem: string;
  keyPem: string;
}

/** The CA and client files in use, and what a machine folder copies of them. */
export interface ClientCerts {
  paths: CertPaths;
  bundle: ClientBundle;
}

interface FilePair {
  cert: string;
  key: string;
}

interface NormalizedOptions {
  ca?: FilePair;
  client?: FilePair;
}

/** Thrown by the unlocked first pass when files must be created; the locked pass then creates them. */
class CreationNeeded extends Error {}

/**
 * Ensures a CA and a client certificate exist in <store>/certs (ca.pem, ca-key.pem, cert.pem, key.pem),
 * creating them on first need under the store's "certs" lock, so concurrent moor processes create exactly
 * one CA. Existing files are validated. With external options, the given files are validated and used; a
 * given CA without a client certificate gets a client certificate of its own in
 * <store>/certs/external/<first 16 hex digits of the CA certificate's SHA-256>/.
 */
export async function ensureClientCerts(store: Store, external: ExternalCertOptions = {}): Promise<CertPaths> {
  return (await ensureClientBundle(store, external)).paths;
}

/**
 * ensureClientCerts, with the contents a machine folder needs (readClientBundle) from the reads that checked
 * them: a create then reads each file once.
 */
export async function ensureClientBundle(store: Store, external: ExternalCertOptions = {}): Promise<ClientCerts> {
  const options = normalizeExternalOptions(external);
  // Most calls find everything in place: check without the lock first. Any problem (missing files, or a
  // read that raced with a writer) is decided again under the lock, where the verdict is final.
  const existing = await resolveCertPaths(store, options, false).catch(() => undefined);
  if (existing) return existing;
  return store.withLock('certs', 'create TLS certificates', () =>
    store.guard('write', () => resolveCertPaths(store, options, true), store.certsDir),
  );
}

/**
 * Replaces the store's CA and client certificate with new ones (regenerate-certs --client-certs). The old
 * files are kept in <store>/certs/old-<time>/; machines keep their own copies until they are given the
 * new ones, so machines not regenerated keep working with the old CA.
 */
export async function rotateStoreCerts(store: Store): Promise<CertPaths> {
  return store.withLock('certs', 'replace TLS certificates', () =>
    store.guard(
      'write',
      async () => {
        const { mkdir, rename } = await import('node:fs/promises');
        const archive = join(store.certsDir, `old-${new Date().toISOString().replace(/[:.]/g, '-')}`);
        await mkdir(archive, { recursive: true, mode: 0o700 });
        for (const file of [CA_CERT_FILE, CA_KEY_FILE, CLIENT_CERT_FILE, CLIENT_KEY_FILE]) {
          await rename(join(store.certsDir, file), join(archive, file)).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== 'ENOENT') throw error;
          });
        }
        return (await resolveCertPaths(store, normalizeExternalOptions({}), true)).paths;
      },
      store.certsDir,
    ),
  );
}

/**
 * Issues a server certificate for `hosts` (IP addresses and DNS names; "localhost" is always added,
 * duplicates are removed) signed by the CA at paths.caCert / paths.caKey.
 */
export async function generateServerCert(
  paths: Pick<CertPaths, 'caCert' | 'caKey'>,
  hosts: string[],
  machineName: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CertPair> {
  const { ips, dnsNames } = splitHosts([...hosts, 'localhost']);
  const ca = await loadCa(resolve(paths.caCert), resolve(paths.caKey), [
    'Check that the CA certificate and its private key belong together and that the certificate is still valid.',
  ]);
  const keys = generateKey();
  const certPem = signCertificate({
    organization: `${currentUser(env)}.${machineName}`,
    publicKey: keys.publicKey,
    signer: ca,
    ca: false,
    // keyEncipherment is for RSA keys (RSA key transport); an ECDSA server key signs and agrees keys.
    keyUsage: ['digitalSignature', 'keyAgreement'],
    extendedKeyUsage: ['serverAuth'],
    ips,
    dnsNames,
  });
  return { certPem, keyPem: privateKeyPem(keys.privateKey) };
}

/** The PEM contents a machine folder needs for DOCKER_CERT_PATH. */
export interface ClientBundle {
  ca: string;
  cert: string;
  key: string;
}

/** Reads the contents a machine folder needs for DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem). */
export async function readClientBundle(paths: CertPaths): Promise<ClientBundle> {
  const [ca, cert, key] = await Promise.all([
    readRequired(paths.caCert, 'CA certificate'),
    readRequired(paths.clientCert, 'client certificate'),
    readRequired(paths.clientKey, 'client key'),
  ]);
  return { ca, cert, key };
}

/** Parses a PEM certificate for inspection. */
export function describeCertificate(pem: string): CertificateInfo {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (error) {
    throw new MoorError(`Not a valid PEM certificate: ${(error as Error).message}`, {
      code: 'TLS_FILE_INVALID',
      cause: error,
    });
  }
  const { dnsNames, ipAddresses } = parseSubjectAltName(cert.subjectAltName ?? '');
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    dnsNames,
    ipAddresses,
    serialNumber: cert.serialNumber,
  };
}

function normalizeExternalOptions(external: ExternalCertOptions): NormalizedOptions {
  const ca = pairOf(external.caCert, external.caKey, '--tls-ca-cert', '--tls-ca-key');
  const client = pairOf(external.clientCert, external.clientKey, '--tls-client-cert', '--tls-client-key');
  return { ...(ca ? { ca } : {}), ...(client ? { client } : {}) };
}

function pairOf(
  cert: string | undefined,
  key: string | undefined,
  certFlag: string,
  keyFlag: string,
): FilePair | undefined {
  const hasCert = cert !== undefined && cert !== '';
  const hasKey = key !== undefined && key !== '';
  if (hasCert !== hasKey) {
    throw new UsageError(`${certFlag} and ${keyFlag} must be given together.`, [
      `Pass both ${certFlag} and ${keyFlag}, or neither to use the certificates moor manages.`,
    ]);
  }
  return hasCert && hasKey ? { cert: resolve(cert), key: resolve(key) } : undefined;
}

async function resolveCertPaths(store: Store, options: NormalizedOptions, create: boolean): Promise<ClientCerts> {
  const ca = options.ca
    ? await loadCa(options.ca.cert, options.ca.key, ['Pass the CA certificate together with its own private key.'])
    : await ensureStoreCa(store, create);
  let client: ClientFiles;
  if (options.client) {
    client = await loadClient(options.client, ca);
  } else {
    const dir = options.ca ? join(store.certsDir, 'external', caFingerprint(ca)) : store.certsDir;
    client = await ensureStoreClient(store, dir, ca, create);
  }
  return {
    paths: { caCert: ca.certPath, caKey: ca.keyPath, clientCert: client.cert, clientKey: client.key },
    bundle: { ca: ca.certPem, cert: client.certPem, key: client.keyPem },
  };
}

async function ensureStoreCa(store: Store, create: boolean): Promise<LoadedCa> {
  const certPath = join(store.certsDir, CA_CERT_FILE);
  const keyPath = join(store.certsDir, CA_KEY_FILE);
  const startOver = [
    `Restore it from a backup, or move ${store.certsDir} aside so that moor creates a new CA on its next run ` +
      '(machines created with the old CA then need new certificates).',
  ];
  const [certPem, keyPem] = await Promise.all([readOptional(certPath), readOptional(keyPath)]);
  if (certPem === undefined && keyPem === undefined) {
    if (!create) throw new CreationNeeded();
    await ensureDir(store.certsDir);
    const keys = generateKey();
    const newCertPem = signCertificate({
      organization: currentUser(store.env),
      publicKey: keys.publicKey,
      signer: { key: keys.privateKey },
      ca: true,
      keyUsage: ['keyCertSign', 'digitalSignature'],
      extendedKeyUsage: ['serverAuth', 'clientAuth'],
      subjectKeyId: true,
    });
    // The certificate is written last: its presence marks a complete CA.
    await writeFileAtomic(keyPath, privateKeyPem(keys.privateKey), PRIVATE_FILE_MODE);
    await writeFileAtomic(certPath, newCertPem, CERT_FILE_MODE);
    return { certPath, keyPath, cert: new X509Certificate(newCertPem), key: keys.privateKey, certPem: newCertPem };
  }
  if (certPem === undefined || keyPem === undefined) {
    const missing = certPem === undefined ? certPath : keyPath;
    throw new MoorError(`The CA in ${store.certsDir} is incomplete: ${missing} is missing.`, {
      code: 'TLS_FILE_MISSING',
      suggestions: startOver,
    });
  }
  return validateCa(certPath, certPem, keyPath, keyPem, startOver);
}

async function loadCa(certPath: string, keyPath: string, suggestions: string[]): Promise<LoadedCa> {
  const [certPem, keyPem] = await Promise.all([
    readRequired(certPath, 'CA certificate'),
    readRequired(keyPath, 'CA private key'),
  ]);
  return validateCa(certPath, certPem, keyPath, keyPem, suggestions);
}

/**
 * The CA this process last parsed, with the file contents it came from: a create checks the store's CA, then
 * signs the server certificate with it, and the second read finds the same bytes (1-2 ms of parsing saved).
 */
let lastCa: { keyPem: string; loaded: LoadedCa } | undefined;

function parsedCa(
  certPath: string,
  certPem: string,
  keyPath: string,
  keyPem: string,
  suggestions: string[],
): { cert: X509Certificate; key: KeyObject } {
  const last = lastCa?.loaded;
  if (last?.certPem === certPem && lastCa?.keyPem === keyPem && last.certPath === certPath && last.keyPath === keyPath)
    return last;
  const cert = parseCertificate(certPath, certPem, suggestions);
  const key = parsePrivateKey(keyPath, keyPem, suggestions);
  assertKeyMatches(cert, certPath, key, keyPath, suggestions);
  return { cert, key };
}

function validateCa(
  certPath: string,
  certPem: string,
  keyPath: string,
  keyPem: string,
  suggestions: string[],
): LoadedCa {
  const { cert, key } = parsedCa(certPath, certPem, keyPath, keyPem, suggestions);
  if (!cert.ca) {
    throw new MoorError(`${certPath} is not a CA certificate (it lacks basicConstraints CA:TRUE).`, {
      code: 'TLS_NOT_CA',
      suggestions,
    });
  }
  if (isExpired(cert)) {
    throw new MoorError(`The CA certificate ${certPath} expired on ${cert.validTo}.`, {
      code: 'TLS_EXPIRED',
      suggestions,
    });
  }
  const loaded = { certPath, keyPath, cert, key, certPem };
  lastCa = { keyPem, loaded };
  return loaded;
}

/**
 * Returns the client pair in `dir`, creating it when missing or expired: it is cheap to replace, because
 * machines trust the CA, not the client certificate. Files that exist but are broken are reported instead,
 * since they may be someone's deliberate edit.
 */
async function ensureStoreClient(store: Store, dir: string, ca: LoadedCa, create: boolean): Promise<ClientFiles> {
  const files = { cert: join(dir, CLIENT_CERT_FILE), key: join(dir, CLIENT_KEY_FILE) };
  const [certPem, keyPem] = await Promise.all([readOptional(files.cert), readOptional(files.key)]);
  if (certPem !== undefined && keyPem !== undefined) {
    const suggestions = [`Remove ${files.cert} and ${files.key}: moor then creates a new client certificate.`];
    const cert = validateClient(files, certPem, keyPem, ca, suggestions);
    if (!isExpired(cert)) return { ...files, certPem, keyPem };
  }
  if (!create) throw new CreationNeeded();
  await ensureDir(store.certsDir);
  if (dir !== store.certsDir) {
    await ensureDir(join(store.certsDir, 'external'));
    await ensureDir(dir);
  }
  const keys = generateKey();
  const newCertPem = signCertificate({
    organization: `${currentUser(store.env)}.${CLIENT_ORG_SUFFIX}`,
    publicKey: keys.publicKey,
    signer: ca,
    ca: false,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: ['clientAuth'],
  });
  const newKeyPem = privateKeyPem(keys.privateKey);
  await writeFileAtomic(files.key, newKeyPem, PRIVATE_FILE_MODE);
  await writeFileAtomic(files.cert, newCertPem, CERT_FILE_MODE);
  return { ...files, certPem: newCertPem, keyPem: newKeyPem };
}

async function loadClient(files: FilePair, ca: LoadedCa): Promise<ClientFiles> {
  const [certPem, keyPem] = await Promise.all([
    readRequired(files.cert, 'client certificate'),
    readRequired(files.key, 'client private key'),
  ]);
  const suggestions = ['Pass a client certificate signed by the CA in use, together with its own private key.'];
  const cert = validateClient(files, certPem, keyPem, ca, suggestions);
  if (isExpired(cert)) {
    throw new MoorError(`The client certificate ${files.cert} expired on ${cert.validTo}.`, {
      code: 'TLS_EXPIRED',
      suggestions,
    });
  }
  return { ...files, certPem, keyPem };
}

function validateClient(
  files: FilePair,
  certPem: string,
  keyPem: string,
  ca: LoadedCa,
  suggestions: string[],
): X509Certificate {
  const cert = parseCertificate(files.cert, certPem, suggestions);
  const key = parsePrivateKey(files.key, keyPem, suggestions);
  assertKeyMatches(cert, files.cert, key, files.key, suggestions);
  if (!cert.checkIssued(ca.cert) || !cert.verify(ca.cert.publicKey)) {
    throw new MoorError(`The client certificate ${files.cert} is not signed by the CA ${ca.certPath}.`, {
      code: 'TLS_NOT_SIGNED_BY_CA',
      suggestions,
    });
  }
  return cert;
}

type SignRequest = Pick<
  CertificateRequest,
  'organization' | 'ca' | 'keyUsage' | 'extendedKeyUsage' | 'ips' | 'dnsNames' | 'subjectKeyId'
> & {
  publicKey: KeyObject;
  /** The issuing CA; without its certificate the certificate is self-signed. */
  signer: { key: KeyObject; cert?: X509Certificate };
};

/**
 * Signs a certificate valid for VALIDITY_DAYS from CLOCK_SKEW_MS ago with a random 128-bit serial number.
 * moor's CAs have ECDSA P-256 keys (RSA in stores made before); a CA given with --tls-ca-key may have either.
 */
function signCertificate({ publicKey, signer, ...request }: SignRequest): string {
  // The authority key id must repeat the issuer's subject key id, or OpenSSL skips the issuer when it
  // builds the chain; an issuer without one gets none.
  const issuer = signer.cert ? issuerFields(signer.cert.raw) : undefined;
  const notBefore = new Date(Math.floor((Date.now() - CLOCK_SKEW_MS) / 1000) * 1000);
  try {
    return createCertificate({
      ...request,
      serialNumber: randomBytes(16),
      notBefore,
      notAfter: new Date(notBefore.getTime() + VALIDITY_DAYS * DAY_MS),
      publicKey: spkiDer(publicKey),
      ...(issuer ? { issuerName: issuer.name } : {}),
      ...(issuer?.keyId ? { authorityKeyId: issuer.keyId } : {}),
      signingKey: signer.key,
    });
  } catch (error) {
    if (!(error instanceof UnsupportedKeyError)) throw error;
    throw new MoorError(`Unsupported CA key type "${error.message}": use an RSA or ECDSA (P-256, P-384, P-521) key.`, {
      code: 'TLS_UNSUPPORTED_KEY',
    });
  }
}

/**
 * A new key for a CA, client or server certificate: ECDSA P-256 (about 128-bit security, more than RSA 2048's
 * 112). Generating it takes well under a millisecond where an RSA 2048 key took 50-400 ms, which was most of
 * `create -d none`. Go's crypto/tls (the Docker Engine and CLI), Node and OpenSSL all accept it. Keys of
 * older stores and of CAs given with --tls-ca-key stay what they are (RSA or ECDSA).
 */
function generateKey(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** PEM in the traditional form of its type: "EC PRIVATE KEY" (SEC 1) or, for an RSA key, "RSA PRIVATE KEY". */
function privateKeyPem(key: KeyObject): string {
  return key.export({ type: key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1', format: 'pem' }).toString();
}

function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

function caFingerprint(ca: LoadedCa): string {
  return createHash('sha256').update(ca.cert.raw).digest('hex').slice(0, 16);
}

/** The certificates' organization: the login name, else $USER or $USERNAME of `env`. */
function currentUser(env: NodeJS.ProcessEnv): string {
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // No passwd entry for this uid (common in containers): fall back to the environment.
  }
  return env['USER'] || env['USERNAME'] || 'moor';
}

function isExpired(cert: X509Certificate): boolean {
  return Date.parse(cert.validTo) <= Date.now();
}

function parseCertificate(path: string, pem: string, suggestions: string[]): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new MoorError(`${path} is not a valid PEM certificate (${(error as Error).message}).`, {
      code: 'TLS_FILE_INVALID',
      suggestions,
      cause: error,
    });
  }
}

function parsePrivateKey(path: string, pem: string, suggestions: string[]): KeyObject {
  try {
    return p256PrivateKeyFromPem(pem) ?? createPrivateKey(pem);
  } catch (error) {
    throw new MoorError(`${path} is not a valid unencrypted PEM private key (${(error as Error).message}).`, {
      code: 'TLS_FILE_INVALID',
      suggestions,
      cause: error,
    });
  }
}

function assertKeyMatches(
  cert: X509Certificate,
  certPath: string,
  key: KeyObject,
  keyPath: string,
  suggestions: string[],
): void {
  // OpenSSL's X509_check_private_key: one native call, where comparing the two exported public keys took
  // 0.5-1 ms per pair.
  if (!cert.checkPrivateKey(key)) {
    throw new MoorError(`The private key ${keyPath} does not belong to the certificate ${certPath}.`, {
      code: 'TLS_KEY_MISMATCH',
      suggestions,
    });
  }
}

/**
 * A PEM file's text, or undefined when it does not exist. Read at once (readFileSync): these files are a few
 * hundred bytes, and an asynchronous read is four round trips through libuv's thread pool (open, fstat,
 * read, close), each a turn of the event loop: about 1 ms of a create's four to six reads.
 */
async function readOptional(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  }
}

async function readRequired(path: string, what: string): Promise<string> {
  const content = await readOptional(path);
  if (content === undefined) {
    throw new MoorError(`The ${what} ${path} does not exist.`, {
      code: 'TLS_FILE_MISSING',
      suggestions: ['Check the path given to moor.'],
    });
  }
  return content;
}

const DNS_NAME = /^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/i;

/** Splits certificate hosts into IP and DNS entries; a value that is neither is a UsageError. */
export function splitHosts(hosts: string[]): { ips: string[]; dnsNames: string[] } {
  const ips = new Set<string>();
  const dnsNames = new Set<string>();
  for (const raw of hosts) {
    const host = raw.trim().replace(/^\[(.*)\]$/, '$1');
    if (host === '') continue;
    if (isIP(host) !== 0) {
      ips.add(canonicalIp(host));
    } else if (host.length <= 253 && DNS_NAME.test(host)) {
      dnsNames.add(host.toLowerCase());
    } else {
      throw new UsageError(`"${raw}" is neither an IP address nor a valid DNS name for a server certificate.`);
    }
  }
  return { ips: [...ips], dnsNames: [...dnsNames] };
}

/**
 * IPv6 addresses in their shortest form (RFC 5952), which is what the WHATWG URL parser prints. A zone
 * ("%eth0") cannot be put in a certificate and is dropped.
 */
function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return new URL(`http://[${ip.replace(/%.*$/, '')}]/`).hostname.slice(1, -1);
}

/**
 * Parses node:crypto's subjectAltName text, e.g. `DNS:localhost, IP Address:127.0.0.1` (values with
 * special characters come JSON-quoted).
 */
function parseSubjectAltName(text: string): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const match of text.matchAll(/([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g)) {
    const type = match[1];
    const rawValue = match[2] ?? '';
    const value = rawValue.startsWith('"') ? (JSON.parse(rawValue) as string) : rawValue;
    if (type === 'DNS') dnsNames.push(value);
    else if (type === 'IP Address' && isIP(value) !== 0) ipAddresses.push(canonicalIp(value));
  }
  return { dnsNames, ipAddresses };
}
