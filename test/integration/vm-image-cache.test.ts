/**
 * The VM drivers' image cache (drivers/shared/vm/image.ts, used by virtualbox and qemu) against a loopback
 * HTTP server: SHA256SUMS and SHA512SUMS lookup, checksum mismatch
 * (clear error, nothing left in the cache), an interrupted download resumed with Range (or restarted when the
 * server ignores Range), and reuse of the cached image without any request.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { checksumFromSums, ensureImage } from '../../drivers/shared/vm/image.js';
import type { MoorError } from '../../src/core/errors.js';
import { silentLogger, type Logger } from '../../src/core/log.js';

const IMAGE = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));
const SHA = createHash('sha256').update(IMAGE).digest('hex');
const SHA512 = createHash('sha512').update(IMAGE).digest('hex');

interface Behaviour {
  /** Close the connection after this many bytes of the image, once. */
  cutAt?: number;
  /** Answer 200 with the whole file even when asked for a range. */
  ignoreRange?: boolean;
  sums?: string;
}

let server: Server;
let base: string;
let requests: { url: string; range?: string }[] = [];
let behaviour: Behaviour = {};
let cache: string;
const info: string[] = [];
const log: Logger = { ...silentLogger, info: (m) => info.push(m), warn: (m) => info.push(`warn: ${m}`) };

function handle(request: IncomingMessage, response: import('node:http').ServerResponse): void {
  requests.push({ url: request.url ?? '', ...(request.headers.range ? { range: request.headers.range } : {}) });
  if (request.url === '/rel/SHA512SUMS') {
    response.end(`${SHA512}  disk.vmdk\n`);
    return;
  }
  if (request.url === '/rel/SHA256SUMS') {
    response.end(behaviour.sums ?? `${'0'.repeat(64)} *other.vmdk\n${SHA} *disk.vmdk\n`);
    return;
  }
  if (request.url !== '/rel/disk.vmdk') {
    response.statusCode = 404;
    response.end();
    return;
  }
  const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
  const start = range && !behaviour.ignoreRange ? Number(range[1]) : 0;
  const body = IMAGE.subarray(start);
  response.statusCode = start > 0 ? 206 : 200;
  response.setHeader('Content-Length', body.length);
  if (start > 0) response.setHeader('Content-Range', `bytes ${start}-${IMAGE.length - 1}/${IMAGE.length}`);
  if (behaviour.cutAt !== undefined) {
    const cut = behaviour.cutAt;
    delete behaviour.cutAt;
    response.write(body.subarray(0, cut), () => response.destroy());
    return;
  }
  response.end(body);
}

before(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as import('node:net').AddressInfo;
  base = `http://127.0.0.1:${address.port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(async () => {
  cache = await mkdtemp(join(tmpdir(), 'moor-image-'));
  requests = [];
  behaviour = {};
  info.length = 0;
});

describe('VM image cache', () => {
  it('reads the checksum of the right file from SHA256SUMS', () => {
    assert.equal(checksumFromSums(`${SHA} *disk.vmdk\n${'1'.repeat(64)}  b.img\n`, 'b.img'), '1'.repeat(64));
    assert.equal(checksumFromSums(`${SHA} *disk.vmdk\n`, 'disk.vmdk'), SHA);
    assert.equal(checksumFromSums(`${SHA} *disk.vmdk\n`, 'nope'), undefined);
  });

  it('downloads once, verifies against SHA256SUMS, and reuses the cache without any request', async () => {
    const path = await ensureImage(
      { location: `${base}/rel/disk.vmdk` },
      { cacheDir: cache, log, flag: 'virtualbox-image' },
    );
    assert.deepEqual(await readFile(path), IMAGE);
    assert.ok(path.startsWith(join(cache, 'images')));
    assert.deepEqual(
      requests.map((r) => r.url),
      ['/rel/SHA256SUMS', '/rel/disk.vmdk'],
    );
    assert.equal((await readFile(`${path}.sha256`, 'utf8')).trim(), SHA);
    requests = [];
    assert.equal(
      await ensureImage({ location: `${base}/rel/disk.vmdk` }, { cacheDir: cache, log, flag: 'virtualbox-image' }),
      path,
    );
    assert.deepEqual(requests, [], 'the second create makes no request');
    await rm(cache, { recursive: true, force: true });
  });

  it('parallel creates download the image once: the others wait and use the cached file', async () => {
    const paths = await Promise.all(
      [1, 2, 3].map(() =>
        ensureImage(
          { location: `${base}/rel/disk.vmdk`, checksum: SHA },
          { cacheDir: cache, log, flag: 'virtualbox-image' },
        ),
      ),
    );
    assert.equal(new Set(paths).size, 1);
    assert.deepEqual(await readFile(paths[0]!), IMAGE);
    assert.deepEqual(
      requests.map((r) => r.url),
      ['/rel/disk.vmdk'],
    );
    await rm(cache, { recursive: true, force: true });
  });

  it('progress is reported as the bytes arrive, up to the total', async () => {
    const seen: [number, number | undefined][] = [];
    await ensureImage(
      { location: `${base}/rel/disk.vmdk`, checksum: SHA },
      { cacheDir: cache, log, flag: 'virtualbox-image', progress: (done, total) => seen.push([done, total]) },
    );
    assert.ok(seen.length > 0);
    assert.deepEqual(seen.at(-1), [IMAGE.length, IMAGE.length]);
    assert.deepEqual(
      requests.map((r) => r.url),
      ['/rel/disk.vmdk'],
      'a given checksum needs no SHA256SUMS',
    );
    await rm(cache, { recursive: true, force: true });
  });

  it('a checksum mismatch is a clear error and leaves nothing in the cache', async () => {
    behaviour.sums = `${'a'.repeat(64)} *disk.vmdk\n`;
    await assert.rejects(
      ensureImage({ location: `${base}/rel/disk.vmdk` }, { cacheDir: cache, log, flag: 'virtualbox-image' }),
      (error: MoorError) => {
        assert.equal(error.code, 'IMAGE_CHECKSUM_MISMATCH');
        assert.match(error.message, new RegExp(`expected SHA-256 ${'a'.repeat(64)}, got ${SHA}`));
        return true;
      },
    );
    assert.deepEqual(await readdir(join(cache, 'images')), [], 'no image, partial file or lock is left');
    await rm(cache, { recursive: true, force: true });
  });

  it('no checksum published for the file: the error says to give --virtualbox-image-checksum', async () => {
    behaviour.sums = `${SHA} *other.vmdk\n`;
    await assert.rejects(
      ensureImage({ location: `${base}/rel/disk.vmdk` }, { cacheDir: cache, log, flag: 'virtualbox-image' }),
      /No checksum for disk\.vmdk in .*SHA256SUMS/,
    );
    await rm(cache, { recursive: true, force: true });
  });

  it('an interrupted download is resumed with a Range request', async () => {
    behaviour.cutAt = 100_000;
    const path = await ensureImage(
      { location: `${base}/rel/disk.vmdk`, checksum: SHA },
      { cacheDir: cache, log, flag: 'virtualbox-image' },
    );
    assert.deepEqual(await readFile(path), IMAGE);
    assert.equal(requests.length, 2);
    assert.equal(requests[0]!.range, undefined);
    assert.match(requests[1]!.range ?? '', /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(requests[1]!.range!)![0]) > 0);
    assert.ok(info.some((line) => line.startsWith('Resuming the download at ')));
    await rm(cache, { recursive: true, force: true });
  });

  it('a partial file left by an earlier run is resumed; a server that ignores Range makes it start over', async () => {
    const first = await ensureImage(
      { location: `${base}/rel/disk.vmdk`, checksum: SHA },
      { cacheDir: cache, log, flag: 'virtualbox-image' },
    );
    await rm(first);
    await rm(`${first}.sha256`);
    await writeFile(`${first}.part`, IMAGE.subarray(0, 1234));
    requests = [];
    await ensureImage(
      { location: `${base}/rel/disk.vmdk`, checksum: SHA },
      { cacheDir: cache, log, flag: 'virtualbox-image' },
    );
    assert.deepEqual(requests, [{ url: '/rel/disk.vmdk', range: 'bytes=1234-' }]);
    assert.deepEqual(await readFile(first), IMAGE);

    await rm(first);
    await rm(`${first}.sha256`);
    await writeFile(`${first}.part`, IMAGE.subarray(0, 999));
    behaviour.ignoreRange = true;
    info.length = 0;
    await ensureImage(
      { location: `${base}/rel/disk.vmdk`, checksum: SHA },
      { cacheDir: cache, log, flag: 'virtualbox-image' },
    );
    assert.deepEqual(await readFile(first), IMAGE, 'restarted, not appended');
    assert.ok(info.includes('The server cannot resume: downloading again'));
    await rm(cache, { recursive: true, force: true });
  });

  it('SHA-512: read from SHA512SUMS (as Debian publishes them), verified, cached under .sha512', async () => {
    const sources = { location: `${base}/rel/disk.vmdk`, sumsFiles: ['SHA512SUMS'] };
    const options = { cacheDir: cache, log, flag: 'qemu-image' };
    const path = await ensureImage(sources, options);
    assert.deepEqual(await readFile(path), IMAGE);
    assert.equal((await readFile(`${path}.sha512`, 'utf8')).trim(), SHA512);
    assert.equal(await ensureImage(sources, options), path);
    assert.equal(await ensureImage({ ...sources, checksum: SHA512 }, options), path);
    assert.deepEqual(
      requests.map((r) => r.url),
      ['/rel/SHA512SUMS', '/rel/disk.vmdk'],
      'the second and third calls use the cache',
    );
    await assert.rejects(
      ensureImage({ location: `${base}/rel/disk.vmdk`, checksum: 'c'.repeat(128) }, options),
      (error: MoorError) => {
        assert.equal(error.code, 'IMAGE_CHECKSUM_MISMATCH');
        assert.match(error.message, /expected SHA-512 c{128}, got /);
        assert.match(error.suggestions.join('\n'), /--qemu-image-checksum/);
        return true;
      },
    );
    await rm(cache, { recursive: true, force: true });
  });

  it('a local file is used where it is, and checked when a checksum is given', async () => {
    const local = join(cache, 'mine.vdi');
    await writeFile(local, IMAGE);
    assert.equal(await ensureImage({ location: local }, { cacheDir: cache, log, flag: 'virtualbox-image' }), local);
    assert.equal(
      await ensureImage({ location: local, checksum: SHA }, { cacheDir: cache, log, flag: 'virtualbox-image' }),
      local,
    );
    await assert.rejects(
      ensureImage({ location: local, checksum: 'b'.repeat(64) }, { cacheDir: cache, log, flag: 'virtualbox-image' }),
      {
        code: 'IMAGE_CHECKSUM_MISMATCH',
      },
    );
    assert.deepEqual(requests, []);
    await rm(cache, { recursive: true, force: true });
  });
});
