import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { renderTable, tabularize } from '../../src/core/format/table.js';

describe('renderTable', () => {
  it('pads every cell but the last to the widest cell plus 3 spaces', () => {
    assert.equal(
      renderTable([
        ['NAME', 'DRIVER', 'STATE'],
        ['longer-name', 'none', 'Running'],
      ]),
      'NAME          DRIVER   STATE\n' + 'longer-name   none     Running\n',
    );
  });

  it('makes columns at least 5 wide', () => {
    assert.equal(
      renderTable([
        ['a', 'b', 'c'],
        ['dd', 'e', 'f'],
      ]),
      'a    b    c\n' + 'dd   e    f\n',
    );
  });

  it('pads empty cells and never pads the last cell of a line', () => {
    assert.equal(
      renderTable([
        ['', 'x', ''],
        ['name', '', 'last'],
      ]),
      '       x    \n' + 'name        last\n',
    );
  });

  it('returns an empty string for no rows and single-cell rows unpadded', () => {
    assert.equal(renderTable([]), '');
    assert.equal(renderTable([['only'], ['x']]), 'only\nx\n');
  });

  it('measures cells in code points', () => {
    assert.equal(
      renderTable([
        ['héllo', 'x'],
        ['日本', 'y'],
      ]),
      'héllo   x\n' + '日本      y\n',
    );
  });
});

describe('tabularize', () => {
  it('aligns tab-separated lines', () => {
    assert.equal(tabularize('NAME\tSTATE\nweb\tRunning\n'), 'NAME   STATE\nweb    Running\n');
  });

  it('measures cells in code points: a character outside the BMP is one, as is a lone surrogate', () => {
    assert.equal(tabularize('\u{1F433}x\ty\nab\tz\n'), '\u{1F433}x   y\nab   z\n');
    assert.equal(tabularize('\uD800x\ty\nab\tz\n'), '\uD800x   y\nab   z\n');
  });

  it('writes text after the last newline without a newline, dropping its trailing empty cell', () => {
    assert.equal(tabularize('a\tb'), 'a    b');
    assert.equal(tabularize('a\t'), 'a');
    assert.equal(tabularize('x\ta\t'), 'x    a');
    assert.equal(tabularize('ab\tc\na\t'), 'ab   c\na');
    assert.equal(tabularize(''), '');
  });

  it('keeps column blocks apart: a line without a cell in a column ends that column block', () => {
    // Column 1 is one block for the first line only; the third line starts a new block.
    assert.equal(tabularize('a\tb\tc\nd\te\nf\tgggggggg\th\n'), 'a    b    c\n' + 'd    e\n' + 'f    gggggggg   h\n');
    // A line without tabs ends every block, so "long cell" does not widen the first column above it.
    assert.equal(
      tabularize('a\tb\tc\naa\tbbbb\nx\nlong cell\ty\n'),
      'a    b    c\n' + 'aa   bbbb\n' + 'x\n' + 'long cell   y\n',
    );
  });

  it('lets a wide cell widen its column across the whole block', () => {
    assert.equal(tabularize('a\tb\tc\nlonger\tx\n'), 'a        b    c\n' + 'longer   x\n');
  });

  it('keeps empty lines in place', () => {
    assert.equal(tabularize('a\tb\n\nccc\td\n'), 'a    b\n\nccc   d\n');
  });

  it('treats \\v like a tab and \\f as a newline that ends all blocks', () => {
    assert.equal(tabularize('a\vb\n'), 'a    b\n');
    assert.equal(tabularize('a\tb\fcccccc\td\n'), 'a    b\ncccccc   d\n');
    assert.equal(tabularize('a\tb\ncccccc\td\n'), 'a        b\ncccccc   d\n');
  });

  it('matches renderTable for the same cells', () => {
    const rows = [
      ['NAME', 'URL', 'ERRORS'],
      ['a', 'tcp://1.2.3.4:2376', ''],
      ['bbbbbbb', '', 'boom'],
    ];
    assert.equal(tabularize(rows.map((cells) => `${cells.join('\t')}\n`).join('')), renderTable(rows));
    assert.equal(
      renderTable(rows),
      'NAME      URL                  ERRORS\n' +
        'a         tcp://1.2.3.4:2376   \n' +
        'bbbbbbb                        boom\n',
    );
  });
});
