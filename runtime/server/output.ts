/**
 * Backend output of one connection: messages are encoded into one buffer and written together at
 * the flush points the spec names (messages marked `flush`, a Flush from the client, the end of a
 * run), so a result set is a few socket writes, not one per row. A socket that stops draining
 * stops the connection's processing until it drains: a client that never reads cannot make the
 * server buffer without bound.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Writer } from '../wire/index.js';
import type { BackendMessage, ErrorResponse } from '../../generated/index.js';
import { encodeLegacyError } from '../protocol/legacy-error.js';
import { FLUSHED_AFTER_SENDING } from '../protocol/flush-points.js';
import { StateViolation, type StateMachine } from '../protocol/state-machine.js';
import type { AnyMessage, ProtocolCodecs } from '../protocol/extension.js';

/** Bytes buffered before a write is forced even without a flush point. */
const HIGH_WATER = 256 * 1024;

export class Output {
  private readonly w = new Writer(64 * 1024);
  private pendingDrain: Promise<unknown> | undefined;
  socket: Socket;

  constructor(
    socket: Socket,
    private readonly fsm: StateMachine,
    private readonly codecs: ProtocolCodecs,
    private readonly onViolation: (violation: StateViolation, message: AnyMessage) => void,
  ) {
    this.socket = socket;
  }

  /** Encodes a backend message, checks it against the state machine, and flushes if the spec says so. */
  send(m: BackendMessage | AnyMessage): void {
    this.codecs.encodeBackend(this.w, m);
    this.checkSent(m);
    if (FLUSHED_AFTER_SENDING.has(m.type) || this.w.length >= HIGH_WATER) this.flush();
  }

  /** An error for a client that asked for a protocol older than 3.0, in the one format it reads; written at once. */
  sendLegacyError(error: ErrorResponse): void {
    encodeLegacyError(this.w, error);
    this.checkSent(error);
    this.flush();
  }

  private checkSent(m: BackendMessage | AnyMessage): void {
    try {
      this.fsm.sent(m.type);
    } catch (err) {
      if (err instanceof StateViolation) this.onViolation(err, m);
      else throw err;
    }
  }

  /** Writes whatever is buffered. */
  flush(): void {
    if (this.w.length === 0) return;
    const bytes = this.w.take();
    // A peer that has gone (or half-closed, which ends our side too) gets nothing more.
    if (this.socket.destroyed || !this.socket.writable) return;
    const ok = this.socket.write(bytes);
    if (!ok && this.pendingDrain === undefined) {
      // `once` rejects on 'error'; a failed socket counts as drained, since nothing will be written.
      this.pendingDrain = Promise.race([once(this.socket, 'drain'), once(this.socket, 'close')])
        .catch(() => undefined)
        .finally(() => {
          this.pendingDrain = undefined;
        });
    }
  }

  /**
   * Drops what is buffered and not yet written: a client that terminates in the middle of a
   * pipeline gets none of the answers PostgreSQL would still have been holding.
   */
  discard(): void {
    this.w.take();
  }

  /** A promise for the socket to have room again, or undefined when it has room now. */
  drained(): Promise<void> | undefined {
    return this.pendingDrain?.then(() => undefined);
  }
}
