/**
 * Docker multiplexes a container's stdout and stderr into one stream when it has no TTY: each frame is an
 * 8-byte header (stream type, three zero bytes, big-endian payload length) followed by the payload.
 */
export interface ContainerOutput {
  stdout: string;
  stderr: string;
}

const HEADER_BYTES = 8;
const STDOUT = 1;
const STDERR = 2;

export function demultiplexLogs(buffer: Buffer): ContainerOutput {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    if (offset + HEADER_BYTES > buffer.length) {
      throw new Error(`truncated log frame header at byte ${offset} of ${buffer.length}`);
    }
    const stream = buffer.readUInt8(offset);
    const length = buffer.readUInt32BE(offset + 4);
    const start = offset + HEADER_BYTES;
    const end = start + length;
    if (end > buffer.length) {
      throw new Error(`log frame at byte ${offset} claims ${length} bytes, only ${buffer.length - start} remain`);
    }
    if (stream === STDOUT) stdout.push(buffer.subarray(start, end));
    else if (stream === STDERR) stderr.push(buffer.subarray(start, end));
    else throw new Error(`unknown log stream type ${stream} at byte ${offset}`);
    offset = end;
  }
  return { stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") };
}

export type LogStreamKind = "stdout" | "stderr";

/**
 * The same frames read as they arrive from a followed log (`follow=1`): a chunk from the socket may end inside a
 * header or a payload, so what is left over waits for the next chunk.
 */
export class LogFrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: LogStreamKind, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buffer = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buffer.length >= HEADER_BYTES) {
      const type = buffer.readUInt8(0);
      const length = buffer.readUInt32BE(4);
      if (buffer.length < HEADER_BYTES + length) break;
      if (type !== STDOUT && type !== STDERR) throw new Error(`unknown log stream type ${type}`);
      this.onFrame(type === STDOUT ? "stdout" : "stderr", buffer.subarray(HEADER_BYTES, HEADER_BYTES + length));
      buffer = buffer.subarray(HEADER_BYTES + length);
    }
    this.pending = Buffer.from(buffer);
  }

  /** Bytes of a frame the stream ended inside of (a broken connection): nothing when it ended cleanly. */
  get leftover(): number {
    return this.pending.length;
  }
}
