import type { DriverDefinition, DriverFlag } from '../api.js';

/** `amazonec2-<name>`, with MOOR_AMAZONEC2_<NAME> and Docker Machine's variables as env fallbacks. */
function flag(name: string, spec: Omit<DriverFlag, 'name' | 'env'>, dockerMachineEnv: string[] = []): DriverFlag {
  return {
    name: `amazonec2-${name}`,
    ...spec,
    env: [`MOOR_AMAZONEC2_${name.toUpperCase().replaceAll('-', '_')}`, ...dockerMachineEnv],
  };
}

export const amazonec2Driver: DriverDefinition = {
  name: 'amazonec2',
  description: 'An AWS EC2 instance; moor creates it (key pair, security group, instance) and installs Docker on it.',
  flags: [
    flag('access-key', {
      type: 'string',
      description:
        'AWS access key id, for this create only (never stored). Default: the SDK chain (AWS_ACCESS_KEY_ID, profiles, SSO, instance role)',
    }),
    flag('secret-key', { type: 'string', description: 'AWS secret access key, for this create only (never stored)' }),
    flag('session-token', { type: 'string', description: 'AWS session token, for this create only (never stored)' }),
    flag('profile', { type: 'string', description: 'Profile of ~/.aws/config and ~/.aws/credentials' }, [
      'AWS_PROFILE',
    ]),
    flag('region', { type: 'string', description: 'AWS region', default: 'us-east-1' }, [
      'AWS_DEFAULT_REGION',
      'AWS_REGION',
    ]),
    flag('zone', { type: 'string', description: 'Availability zone letter (a, b, ...) or name; default: any' }, [
      'AWS_ZONE',
    ]),
    flag('vpc-id', { type: 'string', description: "VPC id; default: the region's default VPC" }, ['AWS_VPC_ID']),
    flag(
      'subnet-id',
      { type: 'string', description: "Subnet id; default: the VPC's default subnet (in the zone when given)" },
      ['AWS_SUBNET_ID'],
    ),
    flag(
      'ami',
      { type: 'string', description: 'AMI id; default: the newest Canonical Ubuntu 24.04 LTS (amd64) image' },
      ['AWS_AMI'],
    ),
    flag('instance-type', { type: 'string', description: 'Instance type', default: 't3.micro' }, ['AWS_INSTANCE_TYPE']),
    flag('root-size', { type: 'integer', description: 'Root volume size in GiB', default: 16 }, ['AWS_ROOT_SIZE']),
    flag('volume-type', { type: 'string', description: 'Root volume type', default: 'gp3' }, ['AWS_VOLUME_TYPE']),
    flag('encrypt-ebs-volume', { type: 'boolean', description: 'Encrypt the root volume', default: false }, [
      'AWS_ENCRYPT_EBS_VOLUME',
    ]),
    flag('kms-key', { type: 'string', description: 'KMS key for the encrypted root volume' }, ['AWS_KMS_KEY']),
    flag('iam-instance-profile', { type: 'string', description: 'IAM instance profile name' }, [
      'AWS_INSTANCE_PROFILE',
    ]),
    flag(
      'security-group',
      {
        type: 'strings',
        description: 'Security group name (repeatable); created in the VPC when missing',
        default: ['moor'],
      },
      ['AWS_SECURITY_GROUP'],
    ),
    flag(
      'security-group-readonly',
      { type: 'boolean', description: 'Never add rules to existing security groups', default: false },
      ['AWS_SECURITY_GROUP_READONLY'],
    ),
    flag('open-port', { type: 'strings', description: 'Extra port to open, PORT or PORT/udp (repeatable)' }),
    flag('ssh-user', { type: 'string', description: 'SSH user of the AMI', default: 'ubuntu' }, ['AWS_SSH_USER']),
    flag('ssh-port', { type: 'integer', description: 'SSH port', default: 22 }, ['AWS_SSH_PORT']),
    flag(
      'ssh-keypath',
      { type: 'string', description: 'Private key of an existing key pair (with --amazonec2-keypair-name)' },
      ['AWS_SSH_KEYPATH'],
    ),
    flag(
      'keypair-name',
      { type: 'string', description: 'Existing EC2 key pair (moor neither imports nor deletes it)' },
      ['AWS_KEYPAIR_NAME'],
    ),
    flag('tags', { type: 'strings', description: 'Tag KEY=VALUE for the instance and its volume (repeatable)' }, [
      'AWS_TAGS',
    ]),
    flag(
      'private-address-only',
      { type: 'boolean', description: 'No public IP; use the private one', default: false },
      ['AWS_PRIVATE_ADDRESS_ONLY'],
    ),
    flag(
      'use-private-address',
      { type: 'boolean', description: 'Reach the instance on its private IP', default: false },
      ['AWS_USE_PRIVATE_ADDRESS'],
    ),
    flag(
      'request-spot-instance',
      { type: 'boolean', description: 'A spot instance (persistent request, stops on interruption)', default: false },
      ['AWS_REQUEST_SPOT_INSTANCE'],
    ),
    flag('spot-price', { type: 'string', description: 'Maximum spot price (USD per hour); default: on-demand price' }, [
      'AWS_SPOT_PRICE',
    ]),
    flag('monitoring', { type: 'boolean', description: 'Detailed CloudWatch monitoring', default: false }, [
      'AWS_MONITORING',
    ]),
    flag('use-ebs-optimized-instance', { type: 'boolean', description: 'EBS-optimized instance', default: false }, [
      'AWS_USE_EBS_OPTIMIZED_INSTANCE',
    ]),
    flag('userdata', { type: 'string', description: 'File with user data (cloud-init) for the instance' }, [
      'AWS_USERDATA',
    ]),
    flag('metadata-http-tokens', {
      type: 'string',
      description: 'Instance metadata service tokens (required = IMDSv2 only)',
      default: 'required',
      options: ['required', 'optional'],
    }),
    flag('metadata-hop-limit', {
      type: 'integer',
      description: 'Instance metadata PUT response hop limit (2 lets containers reach it)',
      default: 1,
    }),
    flag('endpoint', { type: 'string', description: 'Custom EC2 endpoint URL' }, ['AWS_ENDPOINT']),
    flag('retries', { type: 'integer', description: 'Attempts per EC2 API call (throttling, errors)', default: 5 }),
  ],
  load: async () => (await import('./driver.js')).factory,
  // Docker Machine's amazonec2 state (libmachine's field names). Its credentials are never stored by moor;
  // security groups Docker Machine made stay when the machine is removed, as Docker Machine left them.
  fromDockerMachine: (driver) => {
    const text = (key: string) => (typeof driver[key] === 'string' && driver[key] !== '' ? driver[key] : undefined);
    const strings = (key: string) => (Array.isArray(driver[key]) ? (driver[key] as unknown[]).map(String) : []);
    const dropped = ['AccessKey', 'SecretKey', 'SessionToken'].filter((key) => text(key) !== undefined);
    const state: Record<string, unknown> = {
      MachineName: driver['MachineName'],
      Region: text('Region') ?? 'us-east-1',
      Retries: Number(driver['RetryCount'] || 5),
      InstanceId: text('InstanceId'),
      SpotRequestId: text('SpotInstanceRequestId'),
      IPAddress: text('IPAddress'),
      PrivateIPAddress: text('PrivateIPAddress'),
      UsePrivateAddress: driver['UsePrivateIP'] === true || driver['PrivateIPOnly'] === true,
      SSHUser: text('SSHUser') ?? 'ubuntu',
      SSHPort: Number(driver['SSHPort'] || 22),
      SSHKeyPath: 'id_rsa',
      KeyPairName: text('KeyName'),
      KeyPairUserSupplied: driver['ExistingKey'] === true,
      VpcId: text('VpcId'),
      SubnetId: text('SubnetId'),
      AMI: text('AMI'),
      InstanceType: text('InstanceType') ?? 't2.micro',
      SecurityGroupIds: strings('SecurityGroupIds'),
      MoorSecurityGroupIds: [],
      ...(text('Endpoint') ? { Endpoint: text('Endpoint') } : {}),
    };
    for (const key of Object.keys(state)) if (state[key] === undefined) delete state[key];
    return {
      state,
      notes: dropped.length
        ? [
            `Its AWS credentials (${dropped.join(', ')}) were not imported: moor never stores them. Give them to moor through the AWS SDK chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an instance role).`,
          ]
        : [],
    };
  },
};
