/**
 * Column alignment identical to Go's `text/tabwriter.NewWriter(w, 5, 1, 3, ' ', 0)`, which docker-machine
 * uses for `ls`: cells end at '\t' (or '\v'), the last cell of a line is not part of any column and is never
 * padded, and a column's width is decided per block of consecutive lines that all have a cell in it.
 */

const MIN_WIDTH = 5;
const PADDING = 3;

/** Aligns already separated cells: each row becomes one line ending in a newline. */
export function renderTable(rows: string[][]): string {
  return tabularize(rows.map((cells) => `${cells.join('\t')}\n`).join(''));
}

/**
 * Aligns text whose lines separate cells with '\t'. Like tabwriter, a '\f' ends a line and also ends every
 * column block (it is written as a newline), and text after the last newline is written without one.
 */
export function tabularize(text: string): string {
  return text
    .split('\f')
    .map((section, index, sections) => formatSection(index < sections.length - 1 ? `${section}\n` : section))
    .join('');
}

function formatSection(text: string): string {
  const lines = text.split('\n').map((line) => line.split(/[\t\v]/));
  // In the text after the last newline, tabwriter only holds cells that were ended by a tab or have text.
  const lastLine = lines[lines.length - 1]!;
  if (lastLine[lastLine.length - 1] === '') lastLine.pop();

  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number) => {
    for (let index = from; index < to; index++) {
      const cells = lines[index]!;
      cells.forEach((cell, column) => {
        out.push(cell);
        const width = widths[column];
        if (width !== undefined) out.push(' '.repeat(width - cellWidth(cell)));
      });
      if (index < lines.length - 1) out.push('\n');
    }
  };

  // A transcription of tabwriter's recursive format(): widths holds the widths of the columns left of `column`.
  const format = (first: number, end: number) => {
    const column = widths.length;
    let blockStart = first;
    for (let index = first; index < end; index++) {
      if (column >= lines[index]!.length - 1) continue;
      writeLines(blockStart, index);
      blockStart = index;
      let width = MIN_WIDTH;
      for (; index < end; index++) {
        const cells = lines[index]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, cellWidth(cells[column]!) + PADDING);
      }
      widths.push(width);
      format(blockStart, index);
      widths.pop();
      blockStart = index;
    }
    writeLines(blockStart, end);
  };

  format(0, lines.length);
  return out.join('');
}

const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/**
 * tabwriter measures cells in Unicode code points (runes), not bytes or display columns: the UTF-16 length
 * less one per surrogate pair. (Counting with a loop over the string made V8 optimize that loop in an `ls`
 * of many machines, which costs memory.)
 */
function cellWidth(cell: string): number {
  return cell.length - (cell.match(SURROGATE_PAIR)?.length ?? 0);
}
