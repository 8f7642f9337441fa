/**
 * The cancel keys of every live session across every listener of a server: a CancelRequest on a
 * new connection finds its target here. Keys are compared in constant time; a wrong key does
 * nothing, as in PostgreSQL.
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { CANCEL_KEY_LENGTHS } from '../../generated/index.js';

export interface Cancellable {
  cancel(): void;
}

export class CancelRegistry {
  private readonly sessions = new Map<number, { key: Buffer; target: Cancellable }>();

  /** Registers a session and returns its process id and a fresh key of the length its protocol version calls for. */
  register(protocolVersion: number, target: Cancellable): { processId: number; secretKey: Buffer } {
    let length = CANCEL_KEY_LENGTHS[0].length as number;
    for (const k of CANCEL_KEY_LENGTHS) if (protocolVersion >= k.version) length = k.length;
    let processId: number;
    do processId = randomInt(1000, 2 ** 31 - 1);
    while (this.sessions.has(processId));
    const secretKey = randomBytes(length);
    this.sessions.set(processId, { key: secretKey, target });
    return { processId, secretKey };
  }

  unregister(processId: number): void {
    this.sessions.delete(processId);
  }

  /** Cancels the session if the key matches; returns whether it did. */
  cancel(processId: number, key: Uint8Array): boolean {
    const s = this.sessions.get(processId);
    if (!s || s.key.length !== key.length || !timingSafeEqual(s.key, key)) return false;
    s.target.cancel();
    return true;
  }

  get size(): number {
    return this.sessions.size;
  }
}
