/**
 * What a terminal shows for `output`, line by line: `\r` returns to the line
 * start, `ESC[2K` clears the line, colours and other escapes are dropped, and
 * text overwrites from the cursor (enough to see whether two writers garbled
 * one line).
 */
export function screenLines(output: string): string[] {
  const lines: string[] = [''];
  let column = 0;
  // eslint-disable-next-line no-control-regex
  const tokens = output.replace(/\r\n/g, '\n').split(/(\r|\n|\x1b\[[0-9;?]*[A-Za-z])/);
  for (const token of tokens) {
    if (token === '') continue;
    const row = lines.length - 1;
    if (token === '\r') column = 0;
    else if (token === '\n') {
      lines.push('');
      column = 0;
    } else if (token === '\x1b[2K') lines[row] = '';
    else if (!token.startsWith('\x1b')) {
      const line = lines[row]!.padEnd(column);
      lines[row] = line.slice(0, column) + token + line.slice(column + token.length);
      column += token.length;
    }
  }
  return lines.filter((line) => line.trim() !== '');
}
