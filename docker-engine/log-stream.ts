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
