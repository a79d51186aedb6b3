/**
 * A minimal ISO 9660 image writer: one root folder of small files, with Joliet names (so that Linux sees
 * "user-data", not "USER_DAT."). Enough for a cloud-init NoCloud seed (volume label "cidata"), with no
 * external tool (genisoimage, xorriso) needed at run time.
 *
 * Layout (2048-byte sectors): 0-15 system area, 16 primary volume descriptor, 17 Joliet supplementary
 * descriptor, 18 terminator, 19-22 path tables (primary L/M, Joliet L/M), 23 primary root folder,
 * 24 Joliet root folder, 25.. file data.
 */
const SECTOR = 2048;
const FIRST_FILE_SECTOR = 25;

export interface IsoFile {
  /** The file name as Linux shows it (Joliet): at most 64 characters, no "/". */
  name: string;
  data: Buffer | string;
}

export interface IsoOptions {
  /** Volume label (at most 16 characters; "cidata" for a NoCloud seed). */
  volumeId: string;
  files: IsoFile[];
  /** Recorded as the creation and modification date (default now). */
  date?: Date;
}

export function buildIso(options: IsoOptions): Buffer {
  const date = options.date ?? new Date();
  if (options.volumeId.length === 0 || options.volumeId.length > 16 || !/^[\x20-\x7e]+$/.test(options.volumeId)) {
    throw new Error(`ISO volume label "${options.volumeId}" must be 1-16 printable ASCII characters.`);
  }
  const files = options.files.map((file) => {
    if (!file.name || file.name.length > 64 || file.name.includes('/')) {
      throw new Error(`ISO file name "${file.name}" must be 1-64 characters without "/".`);
    }
    return { name: file.name, data: Buffer.isBuffer(file.data) ? file.data : Buffer.from(file.data, 'utf8') };
  });
  const names = new Set<string>();
  let sector = FIRST_FILE_SECTOR;
  const placed = files.map((file, index) => {
    const primaryName = `${shortName(file.name, index)};1`;
    if (names.has(primaryName) || names.has(file.name)) throw new Error(`Duplicate ISO file name "${file.name}".`);
    names.add(primaryName).add(file.name);
    const location = sector;
    sector += Math.max(1, Math.ceil(file.data.length / SECTOR));
    return { ...file, primaryName, location };
  });
  const totalSectors = sector;
  const image = Buffer.alloc(totalSectors * SECTOR);

  const primaryRoot = directory(
    23,
    date,
    [...placed]
      .sort((a, b) => compare(a.primaryName, b.primaryName))
      .map((file) => ({
        name: Buffer.from(file.primaryName, 'ascii'),
        location: file.location,
        size: file.data.length,
      })),
  );
  const jolietRoot = directory(
    24,
    date,
    [...placed]
      .sort((a, b) => compare(a.name, b.name))
      .map((file) => ({ name: ucs2(file.name), location: file.location, size: file.data.length })),
  );
  primaryRoot.copy(image, 23 * SECTOR);
  jolietRoot.copy(image, 24 * SECTOR);
  for (const file of placed) file.data.copy(image, file.location * SECTOR);

  pathTable(image, 19, 23, 'LE');
  pathTable(image, 20, 23, 'BE');
  pathTable(image, 21, 24, 'LE');
  pathTable(image, 22, 24, 'BE');
  volumeDescriptor(image, 16, {
    joliet: false,
    volumeId: options.volumeId,
    totalSectors,
    date,
    root: 23,
    paths: [19, 20],
  });
  volumeDescriptor(image, 17, {
    joliet: true,
    volumeId: options.volumeId,
    totalSectors,
    date,
    root: 24,
    paths: [21, 22],
  });
  const terminator = 18 * SECTOR;
  image[terminator] = 255;
  image.write('CD001', terminator + 1, 'ascii');
  image[terminator + 6] = 1;
  return image;
}

/** An 8.3 name of d-characters for the primary folder ("user-data" -> "USER_DAT."), unique by index if needed. */
function shortName(name: string, index: number): string {
  const dot = name.lastIndexOf('.');
  const base = (dot > 0 ? name.slice(0, dot) : name).toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  const ext = (dot > 0 ? name.slice(dot + 1) : '')
    .toUpperCase()
    .replace(/[^A-Z0-9_]/g, '_')
    .slice(0, 3);
  const short = base.slice(0, 8) || `F${index}`;
  return `${short}.${ext}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function ucs2(text: string): Buffer {
  const buffer = Buffer.alloc(text.length * 2);
  for (let i = 0; i < text.length; i++) buffer.writeUInt16BE(text.charCodeAt(i), i * 2);
  return buffer;
}

function bothEndian32(buffer: Buffer, offset: number, value: number): void {
  buffer.writeUInt32LE(value, offset);
  buffer.writeUInt32BE(value, offset + 4);
}

function bothEndian16(buffer: Buffer, offset: number, value: number): void {
  buffer.writeUInt16LE(value, offset);
  buffer.writeUInt16BE(value, offset + 2);
}

/** One directory record (ECMA-119 9.1). */
function record(name: Buffer, location: number, size: number, isDir: boolean, date: Date): Buffer {
  const length = 33 + name.length + (name.length % 2 === 0 ? 1 : 0);
  const buffer = Buffer.alloc(length);
  buffer[0] = length;
  bothEndian32(buffer, 2, location);
  bothEndian32(buffer, 10, size);
  buffer[18] = date.getUTCFullYear() - 1900;
  buffer[19] = date.getUTCMonth() + 1;
  buffer[20] = date.getUTCDate();
  buffer[21] = date.getUTCHours();
  buffer[22] = date.getUTCMinutes();
  buffer[23] = date.getUTCSeconds();
  buffer[24] = 0; // GMT offset
  buffer[25] = isDir ? 2 : 0;
  bothEndian16(buffer, 28, 1);
  buffer[32] = name.length;
  name.copy(buffer, 33);
  return buffer;
}

function directory(self: number, date: Date, entries: { name: Buffer; location: number; size: number }[]): Buffer {
  const records = [
    record(Buffer.from([0]), self, SECTOR, true, date),
    record(Buffer.from([1]), self, SECTOR, true, date),
    ...entries.map((entry) => record(entry.name, entry.location, entry.size, false, date)),
  ];
  const buffer = Buffer.concat(records);
  if (buffer.length > SECTOR) throw new Error('Too many files for a one-sector ISO root folder.');
  return Buffer.concat([buffer, Buffer.alloc(SECTOR - buffer.length)]);
}

function pathTable(image: Buffer, sector: number, rootSector: number, endian: 'LE' | 'BE'): void {
  const offset = sector * SECTOR;
  image[offset] = 1; // identifier length
  if (endian === 'LE') {
    image.writeUInt32LE(rootSector, offset + 2);
    image.writeUInt16LE(1, offset + 6);
  } else {
    image.writeUInt32BE(rootSector, offset + 2);
    image.writeUInt16BE(1, offset + 6);
  }
}

const PATH_TABLE_SIZE = 10;

function textField(image: Buffer, offset: number, length: number, text: string, joliet: boolean): void {
  if (joliet) {
    for (let i = 0; i < length; i += 2) image.writeUInt16BE(0x20, offset + i);
    ucs2(text.slice(0, length / 2)).copy(image, offset);
  } else {
    image.write(text.padEnd(length, ' ').slice(0, length), offset, 'ascii');
  }
}

function decDate(date: Date): string {
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}00`;
}

function volumeDescriptor(
  image: Buffer,
  sector: number,
  options: {
    joliet: boolean;
    volumeId: string;
    totalSectors: number;
    date: Date;
    root: number;
    paths: [number, number];
  },
): void {
  const base = sector * SECTOR;
  const { joliet } = options;
  image[base] = joliet ? 2 : 1;
  image.write('CD001', base + 1, 'ascii');
  image[base + 6] = 1;
  textField(image, base + 8, 32, 'LINUX', joliet);
  textField(image, base + 40, 32, options.volumeId, joliet);
  bothEndian32(image, base + 80, options.totalSectors);
  if (joliet) image.write('%/E', base + 88, 'ascii'); // UCS-2 level 3
  bothEndian16(image, base + 120, 1);
  bothEndian16(image, base + 124, 1);
  bothEndian16(image, base + 128, SECTOR);
  bothEndian32(image, base + 132, PATH_TABLE_SIZE);
  image.writeUInt32LE(options.paths[0], base + 140);
  image.writeUInt32BE(options.paths[1], base + 148);
  record(Buffer.from([0]), options.root, SECTOR, true, options.date).copy(image, base + 156);
  for (const [offset, length] of [
    [190, 128],
    [318, 128],
    [446, 128],
    [574, 128],
    [702, 37],
    [739, 37],
    [776, 37],
  ] as const) {
    textField(image, base + offset, length, offset === 574 ? 'MOOR' : '', joliet);
  }
  const stamp = decDate(options.date);
  image.write(stamp, base + 813, 'ascii');
  image.write(stamp, base + 830, 'ascii');
  image.write('0000000000000000', base + 847, 'ascii');
  image.write('0000000000000000', base + 864, 'ascii');
  image[base + 881] = 1;
}
