/**
 * What an amazonec2 machine is made of: the state kept in its record (Ec2State), what create needs beyond it
 * and never stores (CreateConfig), and the record read back into a state.
 */
import type { Ec2ClientOptions, IngressRule, Tag } from './ec2-api.js';

export const ENGINE_PORT = 2376;
/** The tag moor puts on everything it creates. */
export const MACHINE_TAG = 'moor:machine';
/** The tag of security groups moor created (shared by machines): any machine's rm may delete an unused one. */
export const MANAGED_TAG = 'moor:managed';
/** The key moor generates, in the machine folder. */
export const KEY_FILE = 'id_ed25519';
/** The copy of a key the user gave (--amazonec2-ssh-keypath), in the machine folder. */
export const USER_KEY_FILE = 'id_ssh';

export interface Ec2State {
  Region: string;
  Endpoint?: string;
  Profile?: string;
  Retries: number;
  InstanceId?: string;
  /**
   * The client token of the RunInstances call of a create, recorded before the call: a moor killed while
   * the call was on its way left an instance it never heard of, and rm finds it by this token.
   */
  ClientToken?: string;
  SpotRequestId?: string;
  IPAddress?: string;
  PrivateIPAddress?: string;
  UsePrivateAddress: boolean;
  SSHUser: string;
  SSHPort: number;
  /** File name of the private key inside the machine folder. */
  SSHKeyPath: string;
  KeyPairName?: string;
  /** The key pair existed before (--amazonec2-keypair-name): rm keeps it. */
  KeyPairUserSupplied: boolean;
  /**
   * A security group create was making (its VPC and name), recorded before the call: rm deletes it if moor
   * made it and no instance uses it, although a killed create never learnt its id.
   */
  PendingSecurityGroup?: { VpcId: string; Name: string };
  VpcId?: string;
  SubnetId?: string;
  AMI?: string;
  InstanceType: string;
  SecurityGroupIds: string[];
  /**
   * The groups moor made (by this create or an earlier one: tagged moor:managed), among SecurityGroupIds:
   * rm deletes them when no other instance uses them.
   */
  MoorSecurityGroupIds: string[];
}

/** What create needs beyond the stored state; never persisted. */
export interface CreateConfig {
  credentials?: Ec2ClientOptions['credentials'];
  zone?: string;
  vpcId?: string;
  subnetId?: string;
  ami?: string;
  rootSize: number;
  volumeType: string;
  encrypted: boolean;
  kmsKey?: string;
  iamInstanceProfile?: string;
  securityGroups: string[];
  securityGroupReadonly: boolean;
  openPorts: IngressRule[];
  sshKeyPath?: string;
  keyPairName?: string;
  tags: Tag[];
  privateAddressOnly: boolean;
  spot: boolean;
  spotPrice?: string;
  monitoring: boolean;
  ebsOptimized: boolean;
  userdataPath?: string;
  metadataHttpTokens: 'required' | 'optional';
  metadataHopLimit: number;
  tlsTransport: boolean;
}

/** The state of a machine record (the Driver object of config.json), with the defaults of older records. */
export function stateFromRecord(raw: Record<string, unknown>): Ec2State {
  const text = (key: string) => (typeof raw[key] === 'string' && raw[key] !== '' ? (raw[key] as string) : undefined);
  const strings = (key: string) => (Array.isArray(raw[key]) ? (raw[key] as unknown[]).map(String) : []);
  return {
    Region: text('Region') ?? 'us-east-1',
    ...optional('Endpoint', text('Endpoint')),
    ...optional('Profile', text('Profile')),
    Retries: Number(raw['Retries'] ?? 5) || 5,
    ...optional('InstanceId', text('InstanceId')),
    ...optional('ClientToken', text('ClientToken')),
    ...optional('SpotRequestId', text('SpotRequestId')),
    ...optional('IPAddress', text('IPAddress')),
    ...optional('PrivateIPAddress', text('PrivateIPAddress')),
    UsePrivateAddress: raw['UsePrivateAddress'] === true,
    SSHUser: text('SSHUser') ?? 'ubuntu',
    SSHPort: Number(raw['SSHPort'] ?? 22),
    SSHKeyPath: text('SSHKeyPath') ?? KEY_FILE,
    ...optional('KeyPairName', text('KeyPairName')),
    KeyPairUserSupplied: raw['KeyPairUserSupplied'] === true,
    ...optional('PendingSecurityGroup', pendingGroupOf(raw['PendingSecurityGroup'])),
    ...optional('VpcId', text('VpcId')),
    ...optional('SubnetId', text('SubnetId')),
    ...optional('AMI', text('AMI')),
    InstanceType: text('InstanceType') ?? 't3.micro',
    SecurityGroupIds: strings('SecurityGroupIds'),
    MoorSecurityGroupIds: strings('MoorSecurityGroupIds'),
  };
}

function pendingGroupOf(value: unknown): { VpcId: string; Name: string } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { VpcId, Name } = value as Record<string, unknown>;
  return typeof VpcId === 'string' && typeof Name === 'string' ? { VpcId, Name } : undefined;
}

/** `{ key: value }`, or `{}` when the value is undefined (for exactOptionalPropertyTypes). */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
