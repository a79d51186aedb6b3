/** src/core/values.ts: isIP says what node:net's isIP says. */
import assert from 'node:assert/strict';
import { isIP as netIsIP } from 'node:net';
import { describe, it } from 'node:test';
import { isIP } from '../../src/core/values.js';

describe('isIP', () => {
  const cases = [
    ...['127.0.0.1', '0.0.0.0', '255.255.255.255', '10.123.0.5'],
    ...['256.1.1.1', '01.1.1.1', '1.2.3.04', '1.1.1', '1.1.1.1.', ' 1.1.1.1', '1.1.1.1 ', '1.1.1.1/24'],
    ...['::', '::1', '1::', '1:2:3:4:5:6:7:8', '2001:DB8::1', '0001:0002::', '::ffff:1.2.3.4'],
    ...['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', 'a:b:c:d:e:f:0:1%x.y'],
    ...['fe80::1%eth0', '::%1', 'fe80::1%', 'fe80::1%e/0', '1::2%3%4', '1:2:3:4:5:6:7:1.2.3.4'],
    ...['1:2:3:4:5:6:7:8:9', '1::2::3', '::ffff:1.2.3.256', '12345::', 'g::1', ':1', '1:', ':::', '1:::2'],
    ...['localhost', 'example.com', '[::1]', '', 'http://x', 'docker.example.com:2376'],
  ];
  for (const value of cases) {
    it(`${JSON.stringify(value)}: ${netIsIP(value)}`, () => assert.equal(isIP(value), netIsIP(value)));
  }
});
