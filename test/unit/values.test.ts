/** src/core/values.ts: isIP says what node:net's isIP says. */
import assert from 'node:assert/strict';
import { isIP as netIsIP } from 'node:net';
import { describe, it } from 'node:test';
import { isIP, isoTime } from '../../src/core/values.js';

describe('isIP', () => {
  const cases = [
    ...['127.0.0.1', '0.0.0.0', '255.255.255.255', '10.123.0.5'],
    ...['256.1.1.1', '01.1.1.1', '1.2.3.04', '1.1.1', '1.1.1.1.', ' 1.1.1.1', '1.1.1.1 ', '1.1.1.1/24'],
    ...['::', '::1', '1::', '1:2:3:4:5:6:7:8', '2001:DB8::1', '0001:0002::', '::ffff:1.2.3.4'],
    ...['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', 'a:b:c:d:e:f:0:1%x.y'],
    ...['fe80::1%eth0', '::%1', 'fe80::1%', 'fe80::1%e/0', '1::2%3%4', '1:2:3:4:5:6:7:1.2.3.4'],
    ...['1:2:3:4:5:6:7:8:9', '1::2::3', '::ffff:1.2.3.256', '12345::', 'g::1', ':1', '1:', ':::', '1:::2'],
    ...['localhost', 'example.com', '[::1]', '', 'http://x', 'docker.example.com:2376'],
    ...['1.2.3.4\n', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.1000', '1.2.3.-1', '1.2.3.+1', '1.2.3.0x1', '1.2.3.1e2'],
    ...['0.0.0.00', '199.249.250.251', '200.0.0.0', '249.255.0.9', '25.5.5.5', '1.2.3.\u0661', '1.2.3. 4'],
  ];
  for (const value of cases) {
    it(`${JSON.stringify(value)}: ${netIsIP(value)}`, () => assert.equal(isIP(value), netIsIP(value)));
  }
  it('every number 0-299 in each place of an IPv4 address, and with a leading zero', () => {
    for (let number = 0; number < 300; number++) {
      for (const text of [String(number), `0${number}`]) {
        for (let place = 0; place < 4; place++) {
          const parts = ['1', '2', '3', '4'];
          parts[place] = text;
          const value = parts.join('.');
          assert.equal(isIP(value), netIsIP(value), value);
        }
      }
    }
  });
});

describe('isoTime', () => {
  it("gives Date's toISOString for the epoch, leap days, century years, month and year ends, and 5000 random times", () => {
    const fixed = [
      0,
      -1,
      Date.UTC(1969, 11, 31, 23, 59, 59, 999),
      Date.UTC(2000, 1, 29, 12, 0, 0, 1),
      Date.UTC(2100, 1, 28, 23, 59, 59, 999),
      Date.UTC(2100, 2, 1),
      Date.UTC(2024, 11, 31, 23, 59, 59, 999),
      Date.UTC(2026, 11, 3, 8, 21, 28, 26),
      Date.UTC(1600, 1, 29),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.parse('0000-01-01T00:00:00.000Z'),
      Date.UTC(1900, 0, 1),
    ];
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const randomTimes = Array.from({ length: 5000 }, () =>
      Math.floor(Date.UTC(1900, 0, 1) + random() * (Date.UTC(2400, 0, 1) - Date.UTC(1900, 0, 1))),
    );
    for (const ms of [...fixed, ...randomTimes]) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  });
});
