/**
 * The amazonec2 flags of `moor create`, checked and turned into the machine's state and its create-only
 * config. Every mistake is a UsageError (exit 2) before any call to AWS.
 */
import type { DriverFlagValues } from '../api.js';
import { UsageError } from '../api.js';
import type { IngressRule, Tag } from './ec2-api.js';
import { type CreateConfig, type Ec2State, KEY_FILE, MACHINE_TAG, optional } from './state.js';

export function settingsFromFlags(
  flags: DriverFlagValues,
  engineTransport: 'tls' | 'ssh' | undefined,
): { state: Ec2State; config: CreateConfig } {
  const region = str(flags, 'region') ?? 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new UsageError(`--amazonec2-region "${region}" is not an AWS region (like us-east-1).`);
  }
  const zoneFlag = str(flags, 'zone');
  if (zoneFlag && !/^([a-z]{2}(-[a-z]+)+-\d+)?[a-z]$/.test(zoneFlag)) {
    throw new UsageError(`--amazonec2-zone "${zoneFlag}" must be a zone letter (a) or name (${region}a).`);
  }
  const zone = zoneFlag && zoneFlag.length === 1 ? `${region}${zoneFlag}` : zoneFlag;
  const endpoint = str(flags, 'endpoint');
  if (endpoint && !/^https?:\/\/[^\s/]+/.test(endpoint)) {
    throw new UsageError(`--amazonec2-endpoint "${endpoint}" must be an http(s) URL.`);
  }
  const accessKey = str(flags, 'access-key');
  const secretKey = str(flags, 'secret-key');
  const sessionToken = str(flags, 'session-token');
  if (Boolean(accessKey) !== Boolean(secretKey)) {
    throw new UsageError('--amazonec2-access-key and --amazonec2-secret-key go together.');
  }
  const sshKeyPath = str(flags, 'ssh-keypath');
  const keyPairName = str(flags, 'keypair-name');
  if (keyPairName && !sshKeyPath) {
    throw new UsageError('--amazonec2-keypair-name needs --amazonec2-ssh-keypath (the private key of that key pair).');
  }
  const spot = bool(flags, 'request-spot-instance');
  const spotPrice = str(flags, 'spot-price');
  if (spotPrice && !spot) throw new UsageError('--amazonec2-spot-price needs --amazonec2-request-spot-instance.');
  if (spotPrice && !/^\d+(\.\d+)?$/.test(spotPrice)) {
    throw new UsageError(`--amazonec2-spot-price "${spotPrice}" must be a price in USD, like 0.05.`);
  }
  const sshUser = str(flags, 'ssh-user') ?? 'ubuntu';
  if (!/^[a-z_][a-z0-9_.-]*$/i.test(sshUser))
    throw new UsageError(`--amazonec2-ssh-user "${sshUser}" is not a valid user name.`);
  const securityGroups = list(flags, 'security-group');
  const privateAddressOnly = bool(flags, 'private-address-only');
  const metadataHttpTokens = str(flags, 'metadata-http-tokens') ?? 'required';
  if (metadataHttpTokens !== 'required' && metadataHttpTokens !== 'optional') {
    throw new UsageError('--amazonec2-metadata-http-tokens must be required or optional.');
  }
  const kmsKey = str(flags, 'kms-key');
  const config: CreateConfig = {
    ...(accessKey && secretKey
      ? {
          credentials: {
            accessKeyId: accessKey,
            secretAccessKey: secretKey,
            ...(sessionToken ? { sessionToken } : {}),
          },
        }
      : {}),
    ...(zone ? { zone } : {}),
    ...optional('vpcId', str(flags, 'vpc-id')),
    ...optional('subnetId', str(flags, 'subnet-id')),
    ...optional('ami', str(flags, 'ami')),
    rootSize: int(flags, 'root-size', 1, 16_384, 'a size in GiB'),
    volumeType: str(flags, 'volume-type') ?? 'gp3',
    encrypted: bool(flags, 'encrypt-ebs-volume') || Boolean(kmsKey),
    ...optional('kmsKey', kmsKey),
    ...optional('iamInstanceProfile', str(flags, 'iam-instance-profile')),
    securityGroups: securityGroups.length > 0 ? [...new Set(securityGroups)] : ['moor'],
    securityGroupReadonly: bool(flags, 'security-group-readonly'),
    openPorts: parsePorts(list(flags, 'open-port')),
    ...optional('sshKeyPath', sshKeyPath),
    ...optional('keyPairName', keyPairName),
    tags: parseTags(list(flags, 'tags')),
    privateAddressOnly,
    spot,
    ...optional('spotPrice', spotPrice),
    monitoring: bool(flags, 'monitoring'),
    ebsOptimized: bool(flags, 'use-ebs-optimized-instance'),
    ...optional('userdataPath', str(flags, 'userdata')),
    metadataHttpTokens,
    metadataHopLimit: int(flags, 'metadata-hop-limit', 1, 64, 'a hop count'),
    tlsTransport: engineTransport !== 'ssh',
  };
  const state: Ec2State = {
    Region: region,
    ...optional('Endpoint', endpoint),
    ...optional('Profile', str(flags, 'profile')),
    Retries: int(flags, 'retries', 1, 20, 'a number of attempts'),
    UsePrivateAddress: privateAddressOnly || bool(flags, 'use-private-address'),
    SSHUser: sshUser,
    SSHPort: int(flags, 'ssh-port', 1, 65_535, 'a port number'),
    SSHKeyPath: KEY_FILE,
    KeyPairUserSupplied: Boolean(keyPairName),
    InstanceType: str(flags, 'instance-type') ?? 't3.micro',
    SecurityGroupIds: [],
    MoorSecurityGroupIds: [],
  };
  return { state, config };
}

function str(flags: DriverFlagValues, name: string): string | undefined {
  const value = flags[`amazonec2-${name}`];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function bool(flags: DriverFlagValues, name: string): boolean {
  return flags[`amazonec2-${name}`] === true;
}

function list(flags: DriverFlagValues, name: string): string[] {
  const value = flags[`amazonec2-${name}`];
  return Array.isArray(value) ? value.map((item) => String(item).trim()).filter(Boolean) : [];
}

function int(flags: DriverFlagValues, name: string, min: number, max: number, what: string): number {
  const value = flags[`amazonec2-${name}`];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--amazonec2-${name} must be ${what} (${min}-${max}); got ${String(value)}.`);
  }
  return value;
}

function parseTags(items: string[]): Tag[] {
  return items.map((item) => {
    const index = item.indexOf('=');
    const key = index > 0 ? item.slice(0, index).trim() : '';
    if (!key) throw new UsageError(`--amazonec2-tags "${item}" must be KEY=VALUE.`);
    if (key.toLowerCase().startsWith('aws:') || key === MACHINE_TAG) {
      throw new UsageError(`--amazonec2-tags: the tag key "${key}" is reserved.`);
    }
    return { key, value: item.slice(index + 1).trim() };
  });
}

function parsePorts(items: string[]): IngressRule[] {
  return items.map((item) => {
    const match = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(item);
    const port = match ? Number(match[1]) : NaN;
    if (!match || port < 1 || port > 65_535) {
      throw new UsageError(`--amazonec2-open-port "${item}" must be PORT or PORT/udp (1-65535).`);
    }
    return { protocol: (match[2]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp', port };
  });
}
