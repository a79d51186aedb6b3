/**
 * The `amazonec2` driver: an EC2 instance that moor creates (key pair, security groups, instance) and
 * removes again without leaving anything behind. Credentials come from the SDK's default chain; the
 * explicit credential flags of create are used in this process only and never reach toJSON().
 *
 * Its parts: flags.ts (flags -> state), state.ts (the record), client-cache.ts (one client per region and
 * credentials, DescribeInstances coalescing), instance-waits.ts, ec2-api.ts (the SDK behind a narrow API).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BaseDriver,
  type DriverContext,
  type DriverFactory,
  loadSSH,
  MachineState,
  type MachineStateValue,
  messageOf,
  MoorError,
  type SSHConfig,
  UsageError,
} from '../api.js';
import { type ClientEntry, clientFor } from './client-cache.js';
import type { Ec2Api, Ec2Instance, Ec2Subnet, IngressRule, Tag } from './ec2-api.js';
import { Ec2EndpointError, hasAwsCode } from './ec2-api.js';
import { settingsFromFlags } from './flags.js';
import { httpTiming } from './timing.js';
import { waitUntilReachable, waitUntilTerminated } from './instance-waits.js';
import {
  type CreateConfig,
  type Ec2State,
  ENGINE_PORT,
  KEY_FILE,
  MACHINE_TAG,
  MANAGED_TAG,
  stateFromRecord,
  USER_KEY_FILE,
} from './state.js';

/** Canonical's account: owner of the official Ubuntu images. */
export const CANONICAL_OWNER = '099720109477';
export const UBUNTU_IMAGE_PATTERN = 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*';

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
      http: httpTiming(this.context.env),
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
    const { signal } = this.context;
    // Each resource is in the record before the call that makes it (checkpoint), so that a moor killed
    // at any point leaves a record "moor rm -f" removes it with; an interrupt stops between the calls.
    const checkpoint = async () => this.context.checkpoint?.();
    try {
      this.state.VpcId = plan.subnet.vpcId;
      this.state.SubnetId = plan.subnet.id;
      this.state.AMI = plan.ami;
      await this.ensureKeyPair(api, config, moorTags, created);
      signal?.throwIfAborted();
      await this.ensureSecurityGroups(api, config, created);
      signal?.throwIfAborted();
      const clientToken = randomUUID();
      this.state.ClientToken = clientToken;
      await checkpoint();

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
        clientToken,
      });
      this.state.InstanceId = instance.id;
      if (instance.spotRequestId) this.state.SpotRequestId = instance.spotRequestId;
      created.push({
        kind: 'instance',
        id: instance.id,
        ...(instance.spotRequestId ? { spotRequestId: instance.spotRequestId } : {}),
      });
      await checkpoint();
      signal?.throwIfAborted();

      this.context.log.step(`Waiting for instance ${instance.id} to run`);
      const running = await waitUntilReachable(api, instance.id, (item) => this.addressOf(item), signal);
      if (running.spotRequestId) this.state.SpotRequestId = running.spotRequestId;
      this.remember(running);
    } catch (error) {
      throw await this.rollback(api, created, error);
    }
  }

  private async ensureKeyPair(api: Ec2Api, config: CreateConfig, tags: Tag[], created: Created[]): Promise<void> {
    if (config.keyPairName) {
      await this.copyUserKey(config.sshKeyPath!);
      this.state.KeyPairName = config.keyPairName;
      this.state.KeyPairUserSupplied = true;
      return;
    }
    let publicKey: string;
    if (config.sshKeyPath) {
      publicKey = await readPublicKey(config.sshKeyPath);
      await this.copyUserKey(config.sshKeyPath);
    } else {
      const { generateKeyPair } = await loadSSH();
      publicKey = (await generateKeyPair(this.context.machineDir, KEY_FILE)).publicKey;
      this.state.SSHKeyPath = KEY_FILE;
    }
    const keyName = `moor-${this.context.machineName}-${randomBytes(4).toString('hex')}`;
    this.state.KeyPairName = keyName;
    this.state.KeyPairUserSupplied = false;
    await this.context.checkpoint?.();
    this.context.log.step(`Importing key pair ${keyName}`);
    await api.importKeyPair(keyName, publicKey, tags);
    created.push({ kind: 'key-pair', id: keyName });
  }

  /** The user's private key (--amazonec2-ssh-keypath), copied into the machine folder, 0600. */
  private async copyUserKey(path: string): Promise<void> {
    const copy = join(this.context.machineDir, USER_KEY_FILE);
    await copyFile(path, copy);
    await chmod(copy, 0o600);
    this.state.SSHKeyPath = USER_KEY_FILE;
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
        this.state.PendingSecurityGroup = { VpcId: vpcId, Name: groupName };
        await this.context.checkpoint?.();
        try {
          const id = await api.createSecurityGroup(vpcId, groupName, `moor: Docker hosts (${groupName})`, [
            { key: MANAGED_TAG, value: 'true' },
          ]);
          created.push({ kind: 'security-group', id });
          this.state.MoorSecurityGroupIds.push(id);
          delete this.state.PendingSecurityGroup;
          await this.context.checkpoint?.();
          group = { id, name: groupName, openRules: [], managed: true };
        } catch (error) {
          // Another create made it in the meantime (two creates at once): use theirs.
          delete this.state.PendingSecurityGroup;
          if (!hasAwsCode(error, 'InvalidGroup.Duplicate')) throw error;
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

  /**
   * Swarm mode between the machines of the instance's security groups: 2377/tcp, 7946/tcp+udp and
   * 4789/udp, each with the group itself as the source (never the world). Rules already there are kept;
   * where a group cannot be changed, the error names the rules to add.
   */
  async openSwarmPorts(): Promise<void> {
    const api = await this.api();
    for (const groupId of this.state.SecurityGroupIds) {
      const wanted: IngressRule[] = SWARM_RULES.map((rule) => ({ ...rule, sourceGroupId: groupId }));
      const group = await api.findSecurityGroupById(groupId);
      if (!group) {
        throw new MoorError(`Security group ${groupId} of "${this.context.machineName}" does not exist any more.`, {
          code: 'SWARM_PORTS_CLOSED',
          suggestions: [swarmRulesAdvice(groupId)],
        });
      }
      const missing = wanted.filter(
        (rule) =>
          !(group.groupRules ?? []).some(
            (have) =>
              have.groupId === groupId &&
              (have.protocol === '-1' || have.protocol === rule.protocol) &&
              (have.protocol === '-1' || (have.fromPort <= rule.port && rule.port <= have.toPort)),
          ),
      );
      if (missing.length === 0) continue;
      this.context.log.step(
        `Opening ${missing.map((rule) => `${rule.port}/${rule.protocol}`).join(', ')} between the machines of security group ${group.name || groupId}`,
      );
      try {
        await authorizeMissing(api, groupId, missing);
      } catch (error) {
        throw new MoorError(`Cannot open the swarm ports in security group ${groupId}: ${messageOf(error)}`, {
          code: 'SWARM_PORTS_CLOSED',
          suggestions: [swarmRulesAdvice(groupId)],
          cause: error,
        });
      }
    }
  }

  /** Removes what this create made, newest first; returns the error to throw (the cause, plus what happened). */
  private async rollback(api: Ec2Api, created: Created[], cause: unknown): Promise<MoorError> {
    const removed: string[] = [];
    const left: string[] = [];
    let silent: string | undefined;
    for (const resource of [...created].reverse()) {
      // An endpoint that did not answer one call will not answer the next: no point in waiting again.
      if (silent) {
        left.push(`${resource.kind} ${resource.id} (not tried: ${silent})`);
        continue;
      }
      try {
        if (resource.kind === 'instance') {
          if (resource.spotRequestId) await api.cancelSpotRequest(resource.spotRequestId);
          await api.terminateInstance(resource.id);
          await waitUntilTerminated(api, resource.id);
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
        if (error instanceof Ec2EndpointError) silent = 'the endpoint failed the previous call';
      }
    }
    // The record must not claim what was removed.
    if (removed.length > 0 && left.length === 0) {
      delete this.state.InstanceId;
      delete this.state.SpotRequestId;
      delete this.state.KeyPairName;
      this.state.MoorSecurityGroupIds = [];
      this.state.SecurityGroupIds = [];
      delete this.state.ClientToken;
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

  private addressOf(instance: Ec2Instance): string | undefined {
    return this.state.UsePrivateAddress ? instance.privateIp : instance.publicIp;
  }

  private remember(instance: Ec2Instance): void {
    if (instance.publicIp) this.state.IPAddress = instance.publicIp;
    else delete this.state.IPAddress;
    if (instance.privateIp) this.state.PrivateIPAddress = instance.privateIp;
  }

  /**
   * Terminates the instance (and cancels its spot request), deletes moor's key pair and moor's security
   * groups that no other instance uses. A failure (the endpoint not answering, say) ends it at once, every
   * call being bounded, with an error that lists what is left and the aws commands that remove it.
   */
  override async remove(): Promise<void> {
    let left = this.resourcesToRemove();
    try {
      const api = await this.api();
      if (await this.findUnrecorded(api)) left = this.resourcesToRemove();
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
        if (exists) await waitUntilTerminated(api, id);
        left.shift();
      }
      if (this.state.KeyPairName && !this.state.KeyPairUserSupplied) {
        this.context.log.step(`Deleting key pair ${this.state.KeyPairName}`);
        await ignoring(['InvalidKeyPair.NotFound'], () => api.deleteKeyPair(this.state.KeyPairName!));
        left.shift();
      }
      for (const groupId of this.state.MoorSecurityGroupIds) {
        try {
          await api.deleteSecurityGroup(groupId);
          this.context.log.step(`Deleted security group ${groupId}`);
        } catch (error) {
          if (hasAwsCode(error, 'DependencyViolation')) {
            this.context.log.info(`Security group ${groupId} is still used by other instances: kept.`);
          } else if (!hasAwsCode(error, 'InvalidGroup.NotFound')) {
            throw error;
          }
        }
        left.shift();
      }
    } catch (error) {
      throw this.leftBehind(error, left);
    }
  }

  /**
   * What a create killed in the middle of a call made without recording it: the instance of its
   * RunInstances client token, the security group it was creating (when moor made it). Returns whether
   * anything was found (then in the state, for remove() to delete).
   */
  private async findUnrecorded(api: Ec2Api): Promise<boolean> {
    let found = false;
    if (!this.state.InstanceId && this.state.ClientToken) {
      const instance = await api.findInstanceByClientToken(this.state.ClientToken);
      if (instance && instance.state !== 'terminated') {
        this.state.InstanceId = instance.id;
        if (instance.spotRequestId) this.state.SpotRequestId = instance.spotRequestId;
        found = true;
      }
    }
    const pending = this.state.PendingSecurityGroup;
    if (pending) {
      const group = await api.findSecurityGroup(pending.VpcId, pending.Name);
      if (group?.managed && !this.state.MoorSecurityGroupIds.includes(group.id)) {
        this.state.MoorSecurityGroupIds.push(group.id);
        found = true;
      }
    }
    return found;
  }

  /** What remove() deletes, in its order, each with the aws command that deletes it. */
  private resourcesToRemove(): { what: string; command: string }[] {
    const aws = (command: string) =>
      `aws ec2 ${command} --region ${this.state.Region}${this.state.Endpoint ? ` --endpoint-url ${this.state.Endpoint}` : ''}${this.state.Profile ? ` --profile ${this.state.Profile}` : ''}`;
    const resources: { what: string; command: string }[] = [];
    const { InstanceId: id, SpotRequestId: spot, KeyPairName: keyPair } = this.state;
    if (id) {
      resources.push({
        what: `instance ${id}${spot ? ` (spot request ${spot})` : ''}`,
        command: `${spot ? `${aws(`cancel-spot-instance-requests --spot-instance-request-ids ${spot}`)} && ` : ''}${aws(`terminate-instances --instance-ids ${id}`)}`,
      });
    }
    if (keyPair && !this.state.KeyPairUserSupplied) {
      resources.push({ what: `key pair ${keyPair}`, command: aws(`delete-key-pair --key-name ${keyPair}`) });
    }
    for (const groupId of this.state.MoorSecurityGroupIds) {
      resources.push({
        what: `security group ${groupId} (unless another instance uses it)`,
        command: aws(`delete-security-group --group-id ${groupId}`),
      });
    }
    return resources;
  }

  /** The error of a remove() that stopped: its cause, what is left in EC2 and how to remove it by hand. */
  private leftBehind(cause: unknown, left: { what: string; command: string }[]): MoorError {
    const base = cause instanceof MoorError ? cause : undefined;
    if (left.length === 0) return base ?? new MoorError(messageOf(cause), { code: 'EC2_REMOVE_FAILED', cause });
    return new MoorError(
      `${messageOf(cause)} Not removed in ${this.state.Region}: ${left.map((item) => item.what).join(', ')}.`,
      {
        code: base?.code ?? 'EC2_REMOVE_FAILED',
        exitCode: base?.exitCode ?? 1,
        suggestions: [
          ...(base?.suggestions ?? []),
          `Once EC2 answers, remove what is left: ${left.map((item) => item.command).join('; ')}.`,
        ],
        cause,
      },
    );
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

  /**
   * The private address: the security group's rules between its machines (the swarm ports, with the group
   * as the source) match traffic to private addresses only, never to public ones; and it stays the same
   * across stop and start.
   */
  async getSwarmAddress(): Promise<string> {
    return this.state.PrivateIPAddress || this.getIP();
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
    if (hasAwsCode(error, ...codes)) return undefined;
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
    if (!hasAwsCode(error, 'InvalidPermission.Duplicate')) throw error;
    if (rules.length === 1) return;
    // One call adds all or nothing: add them one by one, skipping those that exist.
    for (const rule of rules)
      await ignoring(['InvalidPermission.Duplicate'], () => api.authorizeIngress(groupId, [rule]));
  }
}

/** What Swarm mode needs between its machines: the cluster port, node gossip, the overlay network's VXLAN. */
const SWARM_RULES: readonly IngressRule[] = [
  { protocol: 'tcp', port: 2377 },
  { protocol: 'tcp', port: 7946 },
  { protocol: 'udp', port: 7946 },
  { protocol: 'udp', port: 4789 },
];

function swarmRulesAdvice(groupId: string): string {
  const rules = SWARM_RULES.map((rule) => `${rule.port}/${rule.protocol}`).join(', ');
  return `Add inbound rules to ${groupId} with the group itself as the source: ${rules}.`;
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

export const factory: DriverFactory = {
  fromFlags(context, flags) {
    const { state, config } = settingsFromFlags(flags, context.engineTransport);
    return new AmazonEc2Driver(context, state, config);
  },
  fromRecord(context, raw) {
    return new AmazonEc2Driver(context, stateFromRecord(raw));
  },
};
