// tar-stream 2 ships no types; these are the parts the engine client uses to pack files for PUT /containers/{id}/archive.
declare module "tar-stream" {
  import type { Readable } from "node:stream";

  interface Headers {
    name: string;
    type?: "file" | "directory";
    mode?: number;
    uid?: number;
    gid?: number;
    mtime?: Date;
  }
  interface Pack extends Readable {
    entry(headers: Headers, content?: string | Buffer, callback?: (err?: Error) => void): void;
    finalize(): void;
  }
  export function pack(): Pack;
}
