/** Frontend messages to the bytes PGlite reads, and PGlite's output bytes back to messages. */
import { BACKEND_TABLE, encodeFrontend, type BackendMessage, type FrontendMessage } from '../../../generated/index.js';
import { StreamDecoder, Writer } from '../../wire/index.js';

export function encodeMessages(messages: readonly FrontendMessage[]): Uint8Array {
  const w = new Writer();
  for (const m of messages) encodeFrontend(w, m);
  return w.take();
}

/** Decodes PGlite's output as it arrives, in any chunking. Decoded messages view the pushed bytes. */
export class BackendDecoder {
  private readonly decoder = new StreamDecoder<BackendMessage>(BACKEND_TABLE);

  push(bytes: Uint8Array): void {
    this.decoder.push(bytes);
  }

  next(): BackendMessage | undefined {
    return this.decoder.next();
  }
}
