// What the CLI prints: JSON for scripts (--json), or aligned tables, coloured only on a terminal (and never with
// NO_COLOR set).

export interface Output {
  json: boolean;
  /** Writes `value` as JSON (--json) or runs `human` to print it for a person. */
  result(value: unknown, human: () => void): void;
  line(text?: string): void;
  table(headers: string[], rows: string[][], colour?: (column: number, cell: string) => string): void;
  colour: {
    green(text: string): string;
    yellow(text: string): string;
    red(text: string): string;
    bold(text: string): string;
    dim(text: string): string;
  };
}

export function createOutput(json: boolean, stream: NodeJS.WriteStream = process.stdout): Output {
  const coloured = Boolean(stream.isTTY) && !process.env['NO_COLOR'] && !json;
  const paint = (code: number) => (text: string) => (coloured ? `\u001b[${code}m${text}\u001b[0m` : text);
  const colour = { green: paint(32), yellow: paint(33), red: paint(31), bold: paint(1), dim: paint(2) };
  const line = (text = '') => void stream.write(`${text}\n`);
  return {
    json,
    colour,
    line,
    result(value, human) {
      if (json) line(JSON.stringify(value, null, 2));
      else human();
    },
    table(headers, rows, paintCell = (_column, cell) => cell) {
      const widths = headers.map((header, column) =>
        Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
      );
      const render = (cells: string[], paintIt: (column: number, cell: string) => string) =>
        cells
          .map((cell, column) => {
            const padded = column === cells.length - 1 ? cell : cell.padEnd(widths[column]);
            return paintIt(column, padded);
          })
          .join('  ')
          .trimEnd();
      line(render(headers, (_column, cell) => colour.bold(cell)));
      for (const row of rows) line(render(row, paintCell));
    },
  };
}

/** Colours a platform state word: up green, degraded or loading yellow, down or failed red. */
export function stateColour(output: Output, state: string): (text: string) => string {
  if (state === 'up' || state === 'loaded') return output.colour.green;
  if (state === 'degraded' || state === 'loading') return output.colour.yellow;
  if (state === 'down' || state === 'failed') return output.colour.red;
  return (text) => text;
}
