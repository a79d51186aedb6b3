import type { DriverDefinition, DriverFlag } from '../api.js';

/**
 * Ubuntu 24.04 LTS's current cloud image as a VMDK (the `<release>-server-cloudimg-<arch>.vmdk` artefact of
 * cloud-images.ubuntu.com); its SHA-256 is in the SHA256SUMS file next to it.
 */
export const DEFAULT_IMAGE_URL = 'https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.vmdk';

/** `--virtualbox-NAME`, read from MOOR_VIRTUALBOX_NAME or Docker Machine's VIRTUALBOX_NAME when not given. */
function flag(name: string, rest: Omit<DriverFlag, 'name' | 'env'>): DriverFlag {
  const env = name.toUpperCase().replace(/-/g, '_');
  return { name: `virtualbox-${name}`, env: [`MOOR_VIRTUALBOX_${env}`, `VIRTUALBOX_${env}`], ...rest };
}

const NIC_TYPES = ['Am79C970A', 'Am79C973', 'Am79C960', '82540EM', '82543GC', '82545EM', 'virtio'];

export const virtualboxDriver: DriverDefinition = {
  name: 'virtualbox',
  description: 'A local VirtualBox VM booted from an Ubuntu cloud image (cloud-init), with a static host-only address.',
  flags: [
    flag('memory', { type: 'integer', description: 'Memory of the VM in MB', default: 2048 }),
    flag('cpu-count', { type: 'integer', description: 'Number of CPUs', default: 2 }),
    flag('disk-size', { type: 'integer', description: 'Disk size in MB', default: 20000 }),
    flag('image-url', {
      type: 'string',
      description:
        'Cloud image (VMDK, VDI or VHD) to boot: http(s) URL, downloaded once into the cache, or a local path',
      default: DEFAULT_IMAGE_URL,
    }),
    flag('image-checksum', {
      type: 'string',
      description: 'SHA-256 of the image (default: from the SHA256SUMS file next to the URL)',
    }),
    flag('hostonly-cidr', {
      type: 'string',
      description: "Host's address and prefix on the host-only network; must be inside 192.168.56.0/21",
      default: '192.168.56.1/24',
    }),
    flag('hostonly-ip', {
      type: 'string',
      description: 'Static address of the VM on the host-only network (default: the first free one in the CIDR)',
    }),
    flag('hostonly-nictype', {
      type: 'string',
      description: 'NIC type of the host-only adapter',
      default: '82540EM',
      options: NIC_TYPES,
    }),
    flag('hostonly-nicpromisc', {
      type: 'string',
      description: 'Promiscuous mode of the host-only adapter',
      default: 'deny',
      options: ['deny', 'allow-vms', 'allow-all'],
    }),
    flag('nat-nictype', {
      type: 'string',
      description: 'NIC type of the NAT adapter',
      default: '82540EM',
      options: NIC_TYPES,
    }),
    flag('no-dns-proxy', {
      type: 'boolean',
      description: "Disable VirtualBox's DNS proxy on the NAT adapter",
      default: false,
    }),
    flag('host-dns-resolver', {
      type: 'boolean',
      description: "Use the host's DNS resolver for the NAT adapter",
      default: false,
    }),
    flag('share-folder', {
      type: 'strings',
      description: 'Shared folder HOSTPATH:GUESTPATH (repeatable; none by default; the guest mounts it with vboxsf)',
    }),
    flag('ui-type', {
      type: 'string',
      description: 'How the VM is started',
      default: 'headless',
      options: ['headless', 'gui', 'sdl', 'separate'],
    }),
    flag('no-vtx-check', {
      type: 'boolean',
      description: 'Skip the check that hardware virtualization (VT-x/AMD-V) is available',
      default: false,
    }),
    flag('vboxmanage', {
      type: 'string',
      description: 'Path of VBoxManage (default: from VBOX_INSTALL_PATH, then PATH)',
    }),
  ],
  load: async () => (await import('./driver.js')).factory,
  // Docker Machine's boot2docker VMs (libmachine's virtualbox driver): the VM is named after the machine,
  // SSH goes through a NAT forward on 127.0.0.1 as "docker" with machines/NAME/id_rsa, the engine listens
  // on the host-only address. moor drives the VM but does not provision boot2docker.
  fromDockerMachine: (driver) => {
    const text = (key: string, fallback: string) =>
      typeof driver[key] === 'string' && driver[key] !== '' ? (driver[key] as string) : fallback;
    const num = (key: string, fallback: number) =>
      typeof driver[key] === 'number' && driver[key] > 0 ? (driver[key] as number) : fallback;
    const name = text('MachineName', '');
    if (!name || !(num('SSHPort', 0) > 0)) throw new Error('its VirtualBox state has no machine name or SSH port');
    return {
      state: {
        MachineName: name,
        VMName: name,
        VBoxManagePath: '',
        Memory: num('Memory', 1024),
        CPU: num('CPU', 1),
        DiskSize: num('DiskSize', 20000),
        ImageURL: text('Boot2DockerURL', ''),
        ImageChecksum: '',
        HostOnlyCIDR: text('HostOnlyCIDR', '192.168.99.1/24'),
        HostOnlyNicType: text('HostOnlyNicType', '82540EM'),
        HostOnlyPromiscMode: text('HostOnlyPromiscMode', 'deny'),
        NatNicType: text('NatNicType', '82540EM'),
        NoDNSProxy: driver['DNSProxy'] === false,
        HostDNSResolver: driver['HostDNSResolver'] === true,
        ShareFolders: [],
        UIType: text('UIType', 'headless'),
        NoVTXCheck: driver['NoVTXCheck'] === true,
        SSHUser: text('SSHUser', 'docker'),
        SSHKeyPath: 'id_rsa',
        SSHPort: num('SSHPort', 0),
        IPAddress: text('IPAddress', ''),
        HostOnlyInterface: '',
        NatMAC: '',
        HostOnlyMAC: '',
        EnginePort: 2376,
        Boot2Docker: true,
      },
      notes: [
        'A boot2docker VM: moor starts, stops, removes it and reaches it over SSH and TLS, but does not provision it (provision and upgrade are refused). moor rm deletes the VM and its disk, which lives in the Docker Machine store.',
      ],
    };
  },
};
