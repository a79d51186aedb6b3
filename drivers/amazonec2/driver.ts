/**
 * The `amazonec2` driver: an EC2 instance that moor creates (key pair, security groups, instance) and
 * removes again without leaving anything behind. Credentials come from the SDK's default chain; the
 * explicit credential flags of create are used in this process only and never reach toJSON().
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BaseDriver,
  type DriverContext,
  type DriverFactory,
  type DriverFlagValues,
  loadSSH,
  MachineState,
  type MachineStateValue,
  messageOf,
  MoorError,
  type SSHConfig,
  TimeoutError,
  UsageError,
} from '../api.js';
import type { Ec2Api, Ec2ClientOptions, Ec2Instance, Ec2Subnet, IngressRule, Tag } from './ec2-api.js';
import { Ec2Error } from './ec2-api.js';

/** Canonical's account: owner of the official Ubuntu images. */
export const CANONICAL_OWNER = '099720109477';
export const UBUNTU_IMAGE_PATTERN = 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*';
export const ENGINE_PORT = 2376;
/** The tag moor puts on everything it creates. */
export const MACHINE_TAG = 'moor:machine';
/** The tag of security groups moor created (shared by machines): any machine's rm may delete an unused one. */
export const MANAGED_TAG = 'moor:managed';

const KEY_FILE = 'id_ed25519';
const USER_KEY_FILE = 'id_ssh';

/** Waiting and retry timing; tests shorten it. */
export const ec2Timing: {
  pollInitialMs: number;
  pollMaxMs: number;
  waitTimeoutMs: number;
  retryDelayMs: ((attempt: number) => number) | undefined;
} = {
  pollInitialMs: 1_000,
  pollMaxMs: 10_000,
  waitTimeoutMs: 600_000,
  retryDelayMs: undefined,
};

interface Ec2State {
  Region: string;
  Endpoint?: string;
  Profile?: string;
  Retries: number;
  InstanceId?: string;
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
interface CreateConfig {
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

/** What preCreateCheck found, used by create. */
interface Plan {
  subnet: Ec2Subnet;
  ami: string;
  userData?: string;
}

type Created =
  | { kind: 'key-pair'; id: string }
  | { kind: 'security-group'; id: string }
  | { kind: 'instance'; id: string; spotRequestId?: string };

// ---------------------------------------------------------------------------------------------------------
// Clients, one per region/endpoint/profile/credentials in a process, and DescribeInstances coalescing: the
// getState calls of one tick (moor ls queries every machine at once) become one DescribeInstances per client.

interface ClientEntry {
  api: Promise<Ec2Api>;
  loader: InstanceLoader;
}

const clients = new Map<string, ClientEntry>();

function clientFor(options: Ec2ClientOptions): ClientEntry {
  const key = JSON.stringify([options.region, options.endpoint, options.profile, options.credentials?.accessKeyId]);
  let entry = clients.get(key);
  if (!entry) {
    const api = import('./ec2-api.js').then(({ createEc2Api }) =>
      createEc2Api({ ...options, ...(ec2Timing.retryDelayMs ? { retryDelayMs: ec2Timing.retryDelayMs } : {}) }),
    );
    // A failed client creation is not cached.
    api.catch(() => clients.delete(key));
    entry = { api, loader: new InstanceLoader(api) };
    clients.set(key, entry);
  }
  return entry;
}

/** Forgets the clients made so far (tests change endpoints and timing between cases). */
export function resetEc2Clients(): void {
  clients.clear();
}

const DESCRIBE_BATCH = 200;

export class InstanceLoader {
  private queue = new Map<
    string,
    { resolve: (value: Ec2Instance | undefined) => void; reject: (error: unknown) => void }[]
  >();
  private scheduled = false;

  constructor(private readonly api: Promise<Ec2Api>) {}

  load(id: string): Promise<Ec2Instance | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.queue.get(id) ?? [];
      waiting.push({ resolve, reject });
      this.queue.set(id, waiting);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    let api: Ec2Api | undefined;
    let failure: unknown;
    try {
      api = await this.api;
    } catch (error) {
      failure = error;
    }
    const batch = this.queue;
    this.queue = new Map();
    this.scheduled = false;
    const ids = [...batch.keys()];
    for (let start = 0; start < ids.length; start += DESCRIBE_BATCH) {
      const chunk = ids.slice(start, start + DESCRIBE_BATCH);
      try {
        if (!api) throw failure;
        const found = new Map((await api.describeInstances(chunk)).map((instance) => [instance.id, instance]));
        for (const id of chunk) for (const waiter of batch.get(id) ?? []) waiter.resolve(found.get(id));
      } catch (error) {
        for (const id of chunk) for (const waiter of batch.get(id) ?? []) waiter.reject(error);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------

const STATE_MAP: Record<string, MachineStateValue> = {
  pending: MachineState.Starting,
  running: MachineState.Running,
  stopping: MachineState.Stopping,
  'shutting-down': MachineState.Stopping,
  stopped: MachineState.Stopped,
};

export class AmazonEc2Driver extends BaseDriver {
  readonly driverName = 'amazonec2';
  /** An instance costs money: a create that fails while provisioning terminates it (and the rest). */
  readonly removeOnFailedCreate = true;
  private plan: Plan | undefined;

  constructor(
    context: DriverContext,
    private readonly state: Ec2State,
    private readonly config?: CreateConfig,
  ) {
    super(context);
  }

  private client(): ClientEntry {
    return clientFor({
      region: this.state.Region,
      maxAttempts: this.state.Retries,
      ...(this.state.Endpoint ? { endpoint: this.state.Endpoint } : {}),
      ...(this.state.Profile ? { profile: this.state.Profile } : {}),
      ...(this.config?.credentials ? { credentials: this.config.credentials } : {}),
    });
  }

  private api(): Promise<Ec2Api> {
    return this.client().api;
  }

  override async preCreateCheck(): Promise<void> {
    const config = this.requireConfig();
    if (config.sshKeyPath) {
      const { checkPrivateKey } = await loadSSH();
      await checkPrivateKey(config.sshKeyPath);
      if (!config.keyPairName) await readPublicKey(config.sshKeyPath);
    }
    let userData: string | undefined;
    if (config.userdataPath) {
      try {
        userData = await readFile(config.userdataPath, 'utf8');
      } catch (error) {
        throw new UsageError(`Cannot read --amazonec2-userdata ${config.userdataPath}: ${messageOf(error)}.`);
      }
    }
    const api = await this.api();
    let vpcId = config.vpcId;
    if (!vpcId && !config.subnetId) {
      vpcId = await api.defaultVpcId();
      if (!vpcId) {
        throw notFound(`Region ${this.state.Region} has no default VPC.`, [
          'Give --amazonec2-vpc-id or --amazonec2-subnet-id.',
        ]);
      }
    }
    const subnet = await api.findSubnet({
      ...(config.subnetId ? { subnetId: config.subnetId } : {}),
      ...(vpcId ? { vpcId } : {}),
      ...(config.zone ? { zone: config.zone } : {}),
    });
    if (!subnet) {
      const where = config.subnetId ? `Subnet ${config.subnetId}` : `No subnet of VPC ${vpcId}`;
      throw notFound(
        `${where}${config.zone ? ` in zone ${config.zone}` : ''} was not found in region ${this.state.Region}.`,
        ['Check --amazonec2-subnet-id, --amazonec2-vpc-id and --amazonec2-zone (or leave them out).'],
      );
    }
    let ami = config.ami;
    if (ami) {
      if (!(await api.imageExists(ami))) {
        throw notFound(`AMI ${ami} was not found in region ${this.state.Region}.`, [
          'Check --amazonec2-ami, or leave it out for the latest Ubuntu 24.04 LTS.',
        ]);
      }
    } else {
      ami = await api.latestImage(CANONICAL_OWNER, UBUNTU_IMAGE_PATTERN);
      if (!ami) {
        throw notFound(`No Ubuntu 24.04 LTS image was found in region ${this.state.Region}.`, [
          'Give an image with --amazonec2-ami.',
        ]);
      }
    }
    if (config.keyPairName && !(await api.keyPairExists(config.keyPairName))) {
      throw notFound(`Key pair "${config.keyPairName}" does not exist in region ${this.state.Region}.`, [
        'Check --amazonec2-keypair-name, or leave it out so that moor creates a key pair of its own.',
      ]);
    }
    this.plan = { subnet, ami, ...(userData !== undefined ? { userData } : {}) };
  }

  async create(): Promise<void> {
    const config = this.requireConfig();
    if (!this.plan) await this.preCreateCheck();
    const plan = this.plan!;
    const api = await this.api();
    const created: Created[] = [];
    const name = this.context.machineName;
    const moorTags: Tag[] = [{ key: MACHINE_TAG, value: name }];
    try {
      this.state.VpcId = plan.subnet.vpcId;
      this.state.SubnetId = plan.subnet.id;
      this.state.AMI = plan.ami;
      await this.ensureKeyPair(api, config, moorTags, created);
      await this.ensureSecurityGroups(api, config, created);

      this.context.log.step(`Launching a ${this.state.InstanceType} instance (${plan.ami}) in ${plan.subnet.zone}`);
      const instance = await api.runInstance({
        imageId: plan.ami,
        instanceType: this.state.InstanceType,
        keyName: this.state.KeyPairName!,
        subnetId: plan.subnet.id,
        securityGroupIds: this.state.SecurityGroupIds,
        associatePublicIp: !config.privateAddressOnly,
        rootSizeGiB: config.rootSize,
        volumeType: config.volumeType,
        encrypted: config.encrypted,
        ...(config.kmsKey ? { kmsKeyId: config.kmsKey } : {}),
        ...(config.iamInstanceProfile ? { iamInstanceProfile: config.iamInstanceProfile } : {}),
        monitoring: config.monitoring,
        ebsOptimized: config.ebsOptimized,
        ...(plan.userData !== undefined ? { userData: plan.userData } : {}),
        metadataHttpTokens: config.metadataHttpTokens,
        metadataHopLimit: config.metadataHopLimit,
        ...(config.spot ? { spot: config.spotPrice ? { maxPrice: config.spotPrice } : {} } : {}),
        tags: [{ key: 'Name', value: name }, ...config.tags, ...moorTags],
        clientToken: randomUUID(),
      });
      this.state.InstanceId = instance.id;
      if (instance.spotRequestId) this.state.SpotRequestId = instance.spotRequestId;
      created.push({
        kind: 'instance',
        id: instance.id,
        ...(instance.spotRequestId ? { spotRequestId: instance.spotRequestId } : {}),
      });

      this.context.log.step(`Waiting for instance ${instance.id} to run`);
      const running = await this.waitFor(api, instance.id, (item) => {
        if (item.state === 'terminated' || item.state === 'shutting-down') {
          throw new MoorError(
            `Instance ${instance.id} was terminated while starting (capacity, limits or spot price).`,
            {
              code: 'EC2_INSTANCE_TERMINATED',
            },
          );
        }
        return item.state === 'running' && Boolean(this.addressOf(item));
      });
      if (running.spotRequestId) this.state.SpotRequestId = running.spotRequestId;
      this.remember(running);
    } catch (error) {
      throw await this.rollback(api, created, error);
    }
  }

  private async ensureKeyPair(api: Ec2Api, config: CreateConfig, tags: Tag[], created: Created[]): Promise<void> {
    const dir = this.context.machineDir;
    if (config.keyPairName) {
      await copyFile(config.sshKeyPath!, join(dir, USER_KEY_FILE));
      await chmod(join(dir, USER_KEY_FILE), 0o600);
      this.state.SSHKeyPath = USER_KEY_FILE;
      this.state.KeyPairName = config.keyPairName;
      this.state.KeyPairUserSupplied = true;
      return;
    }
    let publicKey: string;
    if (config.sshKeyPath) {
      publicKey = await readPublicKey(config.sshKeyPath);
      await copyFile(config.sshKeyPath, join(dir, USER_KEY_FILE));
      await chmod(join(dir, USER_KEY_FILE), 0o600);
      this.state.SSHKeyPath = USER_KEY_FILE;
    } else {
      const { generateKeyPair } = await loadSSH();
      publicKey = (await generateKeyPair(dir, KEY_FILE)).publicKey;
      this.state.SSHKeyPath = KEY_FILE;
    }
    const keyName = `moor-${this.context.machineName}-${randomBytes(4).toString('hex')}`;
    this.context.log.step(`Importing key pair ${keyName}`);
    await api.importKeyPair(keyName, publicKey, tags);
    created.push({ kind: 'key-pair', id: keyName });
    this.state.KeyPairName = keyName;
    this.state.KeyPairUserSupplied = false;
  }

  private async ensureSecurityGroups(api: Ec2Api, config: CreateConfig, created: Created[]): Promise<void> {
    const vpcId = this.state.VpcId!;
    const wanted: IngressRule[] = [
      { protocol: 'tcp', port: this.state.SSHPort },
      ...(config.tlsTransport ? [{ protocol: 'tcp' as const, port: ENGINE_PORT }] : []),
      ...config.openPorts,
    ];
    const ids: string[] = [];
    for (const groupName of config.securityGroups) {
      let group = await api.findSecurityGroup(vpcId, groupName);
      if (!group) {
        this.context.log.step(`Creating security group ${groupName} in ${vpcId}`);
        try {
          const id = await api.createSecurityGroup(vpcId, groupName, `moor: Docker hosts (${groupName})`, [
            { key: MANAGED_TAG, value: 'true' },
          ]);
          created.push({ kind: 'security-group', id });
          group = { id, name: groupName, openRules: [], managed: true };
        } catch (error) {
          // Another create made it in the meantime (two creates at once): use theirs.
          if (!(error instanceof Ec2Error && error.awsCode === 'InvalidGroup.Duplicate')) throw error;
          group = await api.findSecurityGroup(vpcId, groupName);
          if (!group) throw error;
        }
      }
      ids.push(group.id);
      if (group.managed && !this.state.MoorSecurityGroupIds.includes(group.id)) {
        this.state.MoorSecurityGroupIds.push(group.id);
      }
      const madeNow = created.some((item) => item.kind === 'security-group' && item.id === group.id);
      if (config.securityGroupReadonly && !madeNow) continue;
      const missing = uniqueRules(wanted).filter(
        (rule) =>
          !group.openRules.some(
            (have) =>
              (have.protocol === '-1' || have.protocol === rule.protocol) &&
              (have.protocol === '-1' || (have.fromPort <= rule.port && rule.port <= have.toPort)),
          ),
      );
      if (missing.length > 0) {
        this.context.log.step(
          `Opening ${missing.map((rule) => `${rule.port}/${rule.protocol}`).join(', ')} in security group ${groupName}`,
        );
        await authorizeMissing(api, group.id, missing);
      }
    }
    this.state.SecurityGroupIds = ids;
  }

  /** Removes what this create made, newest first; returns the error to throw (the cause, plus what happened). */
  private async rollback(api: Ec2Api, created: Created[], cause: unknown): Promise<MoorError> {
    const removed: string[] = [];
    const left: string[] = [];
    for (const resource of [...created].reverse()) {
      try {
        if (resource.kind === 'instance') {
          if (resource.spotRequestId) await api.cancelSpotRequest(resource.spotRequestId);
          await api.terminateInstance(resource.id);
          await this.waitFor(api, resource.id, (item) => item.state === 'terminated', true);
          removed.push(
            `instance ${resource.id}${resource.spotRequestId ? ` (spot request ${resource.spotRequestId})` : ''}`,
          );
        } else if (resource.kind === 'security-group') {
          await api.deleteSecurityGroup(resource.id);
          removed.push(`security group ${resource.id}`);
        } else {
          await api.deleteKeyPair(resource.id);
          removed.push(`key pair ${resource.id}`);
        }
        this.context.log.info(`Rolled back: removed ${removed.at(-1)}`);
      } catch (error) {
        left.push(`${resource.kind} ${resource.id} (${messageOf(error)})`);
      }
    }
    // The record must not claim what was removed.
    if (removed.length > 0 && left.length === 0) {
      delete this.state.InstanceId;
      delete this.state.SpotRequestId;
      delete this.state.KeyPairName;
      this.state.MoorSecurityGroupIds = [];
      this.state.SecurityGroupIds = [];
    }
    const base = cause instanceof MoorError ? cause : undefined;
    const parts = [messageOf(cause)];
    if (removed.length > 0) parts.push(`Rolled back: removed ${removed.join(', ')}.`);
    if (left.length > 0) parts.push(`Rollback failed, left behind in ${this.state.Region}: ${left.join('; ')}.`);
    return new MoorError(parts.join(' '), {
      code: base?.code ?? 'EC2_CREATE_FAILED',
      exitCode: base?.exitCode ?? 1,
      suggestions: [
        ...(left.length > 0
          ? [`Delete the resources left behind in the EC2 console (region ${this.state.Region}), or with the aws CLI.`]
          : []),
        ...(base?.suggestions ?? []),
      ],
      cause,
    });
  }

  /**
   * Polls one instance (DescribeInstances) with backoff until `done` says so. `gone` accepts an instance
   * that no longer exists as done (terminated instances disappear after a while).
   */
  private async waitFor(
    api: Ec2Api,
    id: string,
    done: (instance: Ec2Instance) => boolean,
    gone = false,
  ): Promise<Ec2Instance> {
    const deadline = Date.now() + ec2Timing.waitTimeoutMs;
    let delay = ec2Timing.pollInitialMs;
    for (;;) {
      const [instance] = await api.describeInstances([id]);
      if (!instance) {
        if (gone) return { id, state: 'terminated', securityGroupIds: [] };
        // Eventual consistency: a new instance may not be described yet.
      } else if (done(instance)) {
        return instance;
      }
      if (Date.now() + delay > deadline) {
        throw new TimeoutError(
          `Instance ${id} did not reach the expected state in ${Math.round(ec2Timing.waitTimeoutMs / 1000)} s (it is ${instance?.state ?? 'not found'}).`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, ec2Timing.pollMaxMs);
    }
  }

  private addressOf(instance: Ec2Instance): string | undefined {
    return this.state.UsePrivateAddress ? instance.privateIp : instance.publicIp;
  }

  private remember(instance: Ec2Instance): void {
    if (instance.publicIp) this.state.IPAddress = instance.publicIp;
    else delete this.state.IPAddress;
    if (instance.privateIp) this.state.PrivateIPAddress = instance.privateIp;
  }

  override async remove(): Promise<void> {
    const api = await this.api();
    const id = this.state.InstanceId;
    if (id) {
      if (this.state.SpotRequestId) {
        await ignoring(['InvalidSpotInstanceRequestID.NotFound'], () =>
          api.cancelSpotRequest(this.state.SpotRequestId!),
        );
      }
      this.context.log.step(`Terminating instance ${id}`);
      const exists = await ignoring(['InvalidInstanceID.NotFound'], async () => {
        await api.terminateInstance(id);
        return true;
      });
      if (exists) await this.waitFor(api, id, (item) => item.state === 'terminated', true);
    }
    if (this.state.KeyPairName && !this.state.KeyPairUserSupplied) {
      this.context.log.step(`Deleting key pair ${this.state.KeyPairName}`);
      await ignoring(['InvalidKeyPair.NotFound'], () => api.deleteKeyPair(this.state.KeyPairName!));
    }
    for (const groupId of this.state.MoorSecurityGroupIds) {
      try {
        await api.deleteSecurityGroup(groupId);
        this.context.log.step(`Deleted security group ${groupId}`);
      } catch (error) {
        if (error instanceof Ec2Error && error.awsCode === 'DependencyViolation') {
          this.context.log.info(`Security group ${groupId} is still used by other instances: kept.`);
        } else if (!(error instanceof Ec2Error && error.awsCode === 'InvalidGroup.NotFound')) {
          throw error;
        }
      }
    }
  }

  private async describe(): Promise<Ec2Instance> {
    const id = this.state.InstanceId;
    if (!id) {
      throw new MoorError(`Machine "${this.context.machineName}" has no EC2 instance (its create did not finish).`, {
        code: 'EC2_NO_INSTANCE',
        suggestions: [`Remove it with "moor rm -y ${this.context.machineName}".`],
      });
    }
    const instance = await this.client().loader.load(id);
    if (!instance || instance.state === 'terminated') {
      throw new MoorError(`Instance ${id} was terminated outside moor.`, {
        code: 'EC2_INSTANCE_TERMINATED',
        suggestions: [`Remove the machine with "moor rm -y ${this.context.machineName}".`],
      });
    }
    this.remember(instance);
    return instance;
  }

  async getState(): Promise<MachineStateValue> {
    const instance = await this.describe();
    return STATE_MAP[instance.state] ?? MachineState.Error;
  }

  override async start(): Promise<void> {
    await (await this.api()).startInstance(this.instanceId());
  }

  override async stop(): Promise<void> {
    await (await this.api()).stopInstance(this.instanceId(), false);
  }

  override async kill(): Promise<void> {
    await (await this.api()).stopInstance(this.instanceId(), true);
  }

  override async restart(): Promise<void> {
    await (await this.api()).rebootInstance(this.instanceId());
  }

  private instanceId(): string {
    if (!this.state.InstanceId) {
      throw new MoorError(`Machine "${this.context.machineName}" has no EC2 instance.`, { code: 'EC2_NO_INSTANCE' });
    }
    return this.state.InstanceId;
  }

  async getIP(): Promise<string> {
    const ip = this.state.UsePrivateAddress ? this.state.PrivateIPAddress : this.state.IPAddress;
    if (!ip) {
      throw new MoorError(`Machine "${this.context.machineName}" has no IP address (is it running?).`, {
        code: 'EC2_NO_IP',
        suggestions: [`Run "moor start ${this.context.machineName}".`],
      });
    }
    return ip;
  }

  async getURL(): Promise<string> {
    return `tcp://${await this.getIP()}:${ENGINE_PORT}`;
  }

  override async getSSHConfig(): Promise<SSHConfig> {
    return {
      host: await this.getIP(),
      port: this.state.SSHPort,
      user: this.state.SSHUser,
      keyPath: join(this.context.machineDir, this.state.SSHKeyPath),
    };
  }

  toJSON(): Record<string, unknown> {
    return { MachineName: this.context.machineName, ...this.state };
  }

  private requireConfig(): CreateConfig {
    if (!this.config) throw new MoorError('This amazonec2 machine exists already.', { code: 'EC2_NOT_NEW' });
    return this.config;
  }
}

/** Something create needs is not in the account: the pre-create check fails (exit 3), nothing is created. */
function notFound(message: string, suggestions: string[]): MoorError {
  return new MoorError(message, { code: 'EC2_NOT_FOUND', suggestions });
}

async function ignoring<T>(codes: string[], fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof Ec2Error && codes.includes(error.awsCode)) return undefined;
    throw error;
  }
}

async function readPublicKey(privateKeyPath: string): Promise<string> {
  try {
    return (await readFile(`${privateKeyPath}.pub`, 'utf8')).trim();
  } catch {
    throw new UsageError(`--amazonec2-ssh-keypath needs the public key next to it: ${privateKeyPath}.pub.`, [
      'Or give --amazonec2-keypair-name too, to use a key pair that exists in EC2 already.',
    ]);
  }
}

/** Adds ingress rules; a rule that exists already (another create added it meanwhile) is not an error. */
async function authorizeMissing(api: Ec2Api, groupId: string, rules: IngressRule[]): Promise<void> {
  try {
    await api.authorizeIngress(groupId, rules);
  } catch (error) {
    if (!(error instanceof Ec2Error && error.awsCode === 'InvalidPermission.Duplicate')) throw error;
    if (rules.length === 1) return;
    // One call adds all or nothing: add them one by one, skipping those that exist.
    for (const rule of rules)
      await ignoring(['InvalidPermission.Duplicate'], () => api.authorizeIngress(groupId, [rule]));
  }
}

function uniqueRules(rules: IngressRule[]): IngressRule[] {
  const seen = new Set<string>();
  return rules.filter((rule) => {
    const key = `${rule.protocol}/${rule.port}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Flags

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

export const factory: DriverFactory = {
  fromFlags(context, flags) {
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
      throw new UsageError(
        '--amazonec2-keypair-name needs --amazonec2-ssh-keypath (the private key of that key pair).',
      );
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
      tlsTransport: context.engineTransport !== 'ssh',
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
    return new AmazonEc2Driver(context, state, config);
  },
  fromRecord(context, raw) {
    const text = (key: string) => (typeof raw[key] === 'string' && raw[key] !== '' ? (raw[key] as string) : undefined);
    const strings = (key: string) => (Array.isArray(raw[key]) ? (raw[key] as unknown[]).map(String) : []);
    const state: Ec2State = {
      Region: text('Region') ?? 'us-east-1',
      ...optional('Endpoint', text('Endpoint')),
      ...optional('Profile', text('Profile')),
      Retries: Number(raw['Retries'] ?? 5) || 5,
      ...optional('InstanceId', text('InstanceId')),
      ...optional('SpotRequestId', text('SpotRequestId')),
      ...optional('IPAddress', text('IPAddress')),
      ...optional('PrivateIPAddress', text('PrivateIPAddress')),
      UsePrivateAddress: raw['UsePrivateAddress'] === true,
      SSHUser: text('SSHUser') ?? 'ubuntu',
      SSHPort: Number(raw['SSHPort'] ?? 22),
      SSHKeyPath: text('SSHKeyPath') ?? KEY_FILE,
      ...optional('KeyPairName', text('KeyPairName')),
      KeyPairUserSupplied: raw['KeyPairUserSupplied'] === true,
      ...optional('VpcId', text('VpcId')),
      ...optional('SubnetId', text('SubnetId')),
      ...optional('AMI', text('AMI')),
      InstanceType: text('InstanceType') ?? 't3.micro',
      SecurityGroupIds: strings('SecurityGroupIds'),
      MoorSecurityGroupIds: strings('MoorSecurityGroupIds'),
    };
    return new AmazonEc2Driver(context, state);
  },
};

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
