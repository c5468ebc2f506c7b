import type { Socket } from 'node:net';

export interface JsonLinesOptions {
  /** A line longer than this (in characters) is not a protocol message. */
  maxLineLength: number;
  /** Called with each complete, non-blank line, trimmed, in the order received. */
  onLine(line: string): void;
  /** Called once when a line grows past `maxLineLength`; no line is delivered after it. */
  onOverflow(): void;
}

/**
 * Splits what a socket receives into newline-delimited lines, as every simulator protocol
 * (control socket, remote hardware) frames its JSON messages. The length cap bounds the memory a
 * peer that never sends a newline can take.
 */
export function readJsonLines(socket: Socket, options: JsonLinesOptions): void {
  socket.setEncoding('utf8');
  let pending = '';
  let overflowed = false;
  socket.on('data', (chunk: string) => {
    if (overflowed) return;
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      if (newline > options.maxLineLength) break;
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== '') options.onLine(line);
      if (overflowed || socket.destroyed) return;
      newline = pending.indexOf('\n');
    }
    // Either the unfinished line, or a finished one the loop refused, is too long.
    if (pending.length > options.maxLineLength) {
      overflowed = true;
      pending = '';
      options.onOverflow();
    }
  });
}
