import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ExitCode, MoorError } from '../../src/core/errors.js';
import {
  detectFamily,
  familyOf,
  parseOsRelease,
  supportedOsIds,
  UnsupportedOsError,
  type Family,
} from '../../src/core/provision/os.js';

/** /etc/os-release as the distributions ship it (trimmed of URLs and the like). */
const SAMPLES: { name: string; text: string; family: Family; id: string; versionId: string }[] = [
  {
    name: 'Debian 12',
    family: 'debian',
    id: 'debian',
    versionId: '12',
    text: `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`,
  },
  {
    name: 'Ubuntu 24.04',
    family: 'debian',
    id: 'ubuntu',
    versionId: '24.04',
    text: `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
`,
  },
  {
    name: 'Raspbian 11',
    family: 'debian',
    id: 'raspbian',
    versionId: '11',
    text: `PRETTY_NAME="Raspbian GNU/Linux 11 (bullseye)"
NAME="Raspbian GNU/Linux"
VERSION_ID="11"
VERSION="11 (bullseye)"
VERSION_CODENAME=bullseye
ID=raspbian
ID_LIKE=debian
`,
  },
  {
    name: 'Linux Mint 22',
    family: 'debian',
    id: 'linuxmint',
    versionId: '22',
    text: `NAME="Linux Mint"
VERSION="22 (Wilma)"
ID=linuxmint
ID_LIKE="ubuntu debian"
PRETTY_NAME="Linux Mint 22"
VERSION_ID="22"
VERSION_CODENAME=wilma
UBUNTU_CODENAME=noble
`,
  },
  {
    name: 'Rocky Linux 9',
    family: 'rhel',
    id: 'rocky',
    versionId: '9.4',
    text: `NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
`,
  },
  {
    name: 'AlmaLinux 9',
    family: 'rhel',
    id: 'almalinux',
    versionId: '9.4',
    text: `NAME="AlmaLinux"
VERSION="9.4 (Seafoam Ocelot)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"
`,
  },
  {
    name: 'Oracle Linux 9',
    family: 'rhel',
    id: 'ol',
    versionId: '9.4',
    text: `NAME="Oracle Linux Server"
VERSION="9.4"
ID="ol"
ID_LIKE="fedora"
VARIANT="Server"
VARIANT_ID="server"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Oracle Linux Server 9.4"
`,
  },
  {
    name: 'CentOS 7',
    family: 'rhel',
    id: 'centos',
    versionId: '7',
    text: `NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
CPE_NAME="cpe:/o:centos:centos:7"
`,
  },
  {
    name: 'Fedora 40',
    family: 'rhel',
    id: 'fedora',
    versionId: '40',
    text: `NAME="Fedora Linux"
VERSION="40 (Cloud Edition)"
ID=fedora
VERSION_ID=40
VERSION_CODENAME=""
PLATFORM_ID="platform:f40"
PRETTY_NAME="Fedora Linux 40 (Cloud Edition)"
VARIANT="Cloud Edition"
VARIANT_ID=cloud
`,
  },
  {
    name: 'Amazon Linux 2',
    family: 'amazon',
    id: 'amzn',
    versionId: '2',
    text: `NAME="Amazon Linux"
VERSION="2"
ID="amzn"
ID_LIKE="centos rhel fedora"
VERSION_ID="2"
PRETTY_NAME="Amazon Linux 2"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"
`,
  },
  {
    name: 'Amazon Linux 2023',
    family: 'amazon',
    id: 'amzn',
    versionId: '2023',
    text: `NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.5.20240805"
`,
  },
  {
    name: 'SLES 15',
    family: 'suse',
    id: 'sles',
    versionId: '15.5',
    text: `NAME="SLES"
VERSION="15-SP5"
VERSION_ID="15.5"
PRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"
ID="sles"
ID_LIKE="suse"
ANSI_COLOR="0;32"
`,
  },
  {
    name: 'openSUSE Leap 15.6',
    family: 'suse',
    id: 'opensuse-leap',
    versionId: '15.6',
    text: `NAME="openSUSE Leap"
VERSION="15.6"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.6"
PRETTY_NAME="openSUSE Leap 15.6"
`,
  },
  {
    name: 'Arch Linux',
    family: 'arch',
    id: 'arch',
    versionId: '',
    text: `NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
ANSI_COLOR="38;2;23;147;209"
LOGO=archlinux-logo
`,
  },
  {
    name: 'Alpine 3.20',
    family: 'alpine',
    id: 'alpine',
    versionId: '3.20.2',
    text: `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.2
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
`,
  },
];

describe('parseOsRelease and detectFamily on real os-release files', () => {
  for (const sample of SAMPLES) {
    it(`${sample.name} -> ${sample.family}`, () => {
      const os = parseOsRelease(sample.text);
      assert.equal(os.id, sample.id);
      assert.equal(os.versionId, sample.versionId);
      assert.notEqual(os.prettyName, '');
      assert.equal(detectFamily(os), sample.family);
    });
  }
});

describe('parseOsRelease', () => {
  it('reads quoting, escapes, comments, CRLF and odd spacing', () => {
    const os = parseOsRelease(
      '# a comment\r\nID="Debian"\r\n  ID_LIKE=\'ubuntu   debian\'\r\nPRETTY_NAME="Say \\"hi\\" \\$HOME \\\\ \\`x\\`"\r\nbogus line\r\n',
    );
    assert.deepEqual(os, {
      id: 'debian',
      idLike: ['ubuntu', 'debian'],
      versionId: '',
      prettyName: 'Say "hi" $HOME \\ `x`',
    });
  });

  it('gives empty fields for an empty file', () => {
    assert.deepEqual(parseOsRelease(''), { id: '', idLike: [], versionId: '', prettyName: '' });
  });
});

describe('detectFamily', () => {
  it('matches ID before ID_LIKE (Amazon Linux 2 says it is like centos)', () => {
    assert.equal(detectFamily(parseOsRelease('ID=amzn\nID_LIKE="centos rhel fedora"')), 'amazon');
  });

  it('falls back to ID_LIKE for derivatives it does not list', () => {
    assert.equal(detectFamily(parseOsRelease('ID=tuxedo\nID_LIKE="ubuntu debian"')), 'debian');
    assert.equal(detectFamily(parseOsRelease('ID=nobara\nID_LIKE="rhel centos fedora"')), 'rhel');
    assert.equal(detectFamily(parseOsRelease('ID=opensuse-tumbleweed\nID_LIKE="opensuse suse"')), 'suse');
    assert.equal(detectFamily(parseOsRelease('ID=opensuse-microos')), 'suse');
    assert.equal(detectFamily(parseOsRelease('ID=garuda\nID_LIKE=arch')), 'arch');
  });

  it('rejects an unknown distribution with UNSUPPORTED_OS, the supported IDs and the way out', () => {
    const os = parseOsRelease('NAME=NixOS\nID=nixos\nPRETTY_NAME="NixOS 24.05 (Uakari)"\nVERSION_ID="24.05"');
    assert.equal(familyOf(os), undefined);
    assert.throws(
      () => detectFamily(os),
      (error: unknown) => {
        assert.ok(error instanceof UnsupportedOsError);
        assert.ok(error instanceof MoorError);
        assert.equal(error.code, 'UNSUPPORTED_OS');
        assert.equal(error.exitCode, ExitCode.failure);
        assert.match(error.message, /NixOS 24\.05 \(Uakari\) \(ID=nixos\)/);
        for (const id of ['debian', 'ubuntu', 'rocky', 'fedora', 'amzn', 'sles', 'arch', 'alpine', 'opensuse-*']) {
          assert.ok(error.message.includes(id), `the message lists ${id}`);
        }
        const suggestions = error.suggestions.join('\n');
        assert.match(suggestions, /--engine-install-url URL/);
        assert.match(suggestions, /--engine-install-method none/);
        return true;
      },
    );
  });

  it('names ID_LIKE in the error, and copes with a file without ID', () => {
    assert.throws(() => detectFamily(parseOsRelease('ID=gentoo\nID_LIKE=funtoo')), /\(ID=gentoo, ID_LIKE=funtoo\)/);
    assert.throws(() => detectFamily(parseOsRelease('')), /an unidentified system \(ID=\(none\)\)/);
  });

  it('lists each supported ID once', () => {
    const ids = supportedOsIds();
    assert.equal(new Set(ids).size, ids.length);
  });
});
