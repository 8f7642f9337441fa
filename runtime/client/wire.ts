/**
 * The client's end of the byte stream: it encodes frontend messages, decodes backend messages with
 * the (possibly extended) generated tables, and checks both directions against the generated
 * state machine. The state machine is the server's view, so a message the client sends is
 * `received()` and a message it gets is `sent()`; a server that breaks it, or sends bytes that do
 * not decode, fails the connection with a `ClientProtocolError` naming the message and state.
 *
 * Every decoded message goes, in order and synchronously, to the observers (notices, parameters,
 * transaction tracking, extension stores); messages that answer a request also go to the inbox
 * the connection's current operation reads with `receive()`.
 */
import type { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { MESSAGES, PROTOCOL_3_0, type BackendMessage, type FrontendMessage } from '../../generated/index.js';
import { ProtocolDecodeError, StreamDecoder, Writer } from '../wire/index.js';
import { StateMachine, StateViolation } from '../protocol/state-machine.js';
import type { AnyMessage, ProtocolCodecs } from '../protocol/extension.js';
import { readErrorFields } from '../protocol/error-fields.js';
import { ClientProtocolError, ConnectionError, PgError } from './errors.js';

/** Messages the server may send at any time; they never answer a request. */
const ASYNC = new Set(['NoticeResponse', 'NotificationResponse', 'ParameterStatus']);

export type Observer = (message: BackendMessage | AnyMessage) => void;

export class ClientWire {
  readonly fsm: StateMachine;
  private socket: Socket;
  private readonly decoder: StreamDecoder<BackendMessage>;
  private readonly w = new Writer(8 * 1024);
  private readonly inbox: (BackendMessage | AnyMessage)[] = [];
  private waiter: { resolve: (m: BackendMessage | AnyMessage) => void; reject: (e: Error) => void } | undefined;
  private readonly observers: Observer[] = [];
  /** Set once the connection has failed or ended; every later receive rejects with it. */
  private failure: Error | undefined;
  /** Decoding stops after a TLS acceptance byte until the handshake is done. */
  private holding = false;
  private ending = false;
  private readonly closeListeners: ((error: Error | undefined) => void)[] = [];
  private closeReported = false;
  /** A FATAL error the server sent before closing: the reason the connection ends. */
  private fatalError: PgError | undefined;
  /** The protocol version the session runs at (selects version-dependent fields). */
  protocolVersion = PROTOCOL_3_0;

  constructor(
    socket: Socket,
    private readonly codecs: ProtocolCodecs,
  ) {
    this.socket = socket;
    this.fsm = new StateMachine(codecs.stateTables);
    this.decoder = new StreamDecoder(codecs.backendTable, { framing: 'typed' });
    this.attach(socket);
  }

  get encrypted(): boolean {
    return 'encrypted' in this.socket && (this.socket as TLSSocket).encrypted === true;
  }

  get tlsSocket(): TLSSocket | undefined {
    return this.encrypted ? (this.socket as TLSSocket) : undefined;
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  /** Calls `fn` with every decoded backend message, in order, before any operation sees it. */
  observe(fn: Observer): void {
    this.observers.push(fn);
  }

  onClose(fn: (error: Error | undefined) => void): void {
    this.closeListeners.push(fn);
  }

  /** Encodes, checks against the state machine, and writes the messages in one socket write. */
  send(messages: readonly (FrontendMessage | AnyMessage)[]): void {
    if (this.failure) throw this.failure;
    if (this.fsm.closed) throw this.fatalError ?? new ConnectionError('08003', 'the connection is closed');
    for (const m of messages) {
      const verdict = this.fsm.received(m.type, { byte: MESSAGES[m.type]?.typeByte?.charCodeAt(0) });
      if (verdict.action === 'reject') {
        // The client's own mistake (e.g. a query sent during COPY): nothing has been written.
        this.w.take();
        throw new Error(`client bug: sending ${m.type} is not allowed in state ${this.fsm.state} (${verdict.message})`);
      }
      this.codecs.encodeFrontend(this.w, m);
      if (m.type === 'SSLRequest') this.decoder.expectReply = 'SSLRequest';
      if (m.type === 'GSSENCRequest') this.decoder.expectReply = 'GSSENCRequest';
    }
    this.socket.write(this.w.take());
  }

  /** The next message that answers a request. Rejects when the connection fails. */
  receive(): Promise<BackendMessage | AnyMessage> {
    const m = this.inbox.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Wraps the socket in TLS after the server accepted an SSLRequest. */
  async startTls(options: ConnectionOptions): Promise<TLSSocket> {
    if (this.failure) throw this.failure;
    const raw = this.socket;
    this.detach(raw);
    const secure = tlsConnect({ ...options, socket: raw });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new ConnectionError('08001', `TLS handshake failed: ${err.message}`, { cause: err }));
      const onClose = (): void => reject(new ConnectionError('08001', 'the server closed the connection during the TLS handshake'));
      secure.once('secureConnect', () => {
        secure.off('error', onError);
        secure.off('close', onClose);
        resolve();
      });
      secure.once('error', onError);
      secure.once('close', onClose);
    }).catch((err: Error) => {
      this.fail(err);
      throw err;
    });
    this.socket = secure;
    this.holding = false;
    this.attach(secure);
    return secure;
  }

  /** Sends the last messages (Terminate) and closes without treating the close as a failure. */
  end(last: readonly (FrontendMessage | AnyMessage)[] = []): Promise<void> {
    if (this.failure) return Promise.resolve();
    this.ending = true;
    try {
      if (last.length > 0) this.send(last);
    } catch {
      // Closing anyway.
    }
    const closed = new Promise<void>((resolve) => this.onClose(() => resolve()));
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
    return closed;
  }

  /** Fails the connection: pending and later receives reject with `error`; the socket is destroyed. */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(error);
    this.reportClose(error);
  }

  // ---- input --------------------------------------------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    if (this.failure) return;
    this.decoder.push(chunk);
    this.drainInput();
  };

  private readonly onEnd = (): void => {
    if (this.ending) {
      this.failure ??= new ConnectionError('08003', 'the connection is closed');
      this.reportClose(undefined);
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(this.failure);
      return;
    }
    this.fail(this.fatalError ?? new ConnectionError('08006', `server closed the connection unexpectedly (state ${this.fsm.state})`));
  };

  private readonly onError = (err: Error): void => {
    if (this.ending) return this.onEnd();
    this.fail(new ConnectionError('08006', `connection lost: ${err.message}`, { cause: err }));
  };

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('close', this.onEnd);
    socket.off('error', this.onError);
  }

  private drainInput(): void {
    while (!this.holding && !this.failure) {
      let m: BackendMessage | undefined;
      this.decoder.context = { protocolVersion: this.protocolVersion };
      try {
        m = this.decoder.next();
      } catch (err) {
        if (!(err instanceof ProtocolDecodeError)) throw err;
        this.fail(new ClientProtocolError(err.messageName, this.fsm.state, err.message, { cause: err }));
        return;
      }
      if (m === undefined) return;
      this.deliver(m);
      if (m.type === 'SSLAccepted' || m.type === 'GSSENCAccepted') {
        // What follows is the handshake; plaintext bytes after the byte were injected, not sent by the server's TLS.
        this.holding = true;
        if (this.decoder.buffered > 0) {
          this.fail(new ClientProtocolError(m.type, this.fsm.state, 'received unencrypted data after SSL response'));
        }
      }
    }
  }

  private deliver(m: BackendMessage | AnyMessage): void {
    const state = this.fsm.state;
    try {
      this.fsm.sent(m.type);
    } catch (err) {
      if (!(err instanceof StateViolation)) throw err;
      this.fail(new ClientProtocolError(m.type, state, `the server sent ${m.type}, which the protocol does not allow in state ${state}`));
      return;
    }
    if (m.type === 'ErrorResponse' && this.fsm.closed) this.fatalError = new PgError(readErrorFields(m as BackendMessage & { type: 'ErrorResponse' }));
    try {
      for (const observe of this.observers) observe(m);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    // Extension messages (not in the base catalogue) are for observers only.
    if (ASYNC.has(m.type) || MESSAGES[m.type] === undefined) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(m);
    } else this.inbox.push(m);
  }

  private reportClose(error: Error | undefined): void {
    if (this.closeReported) return;
    this.closeReported = true;
    for (const fn of this.closeListeners) fn(error);
  }
}
