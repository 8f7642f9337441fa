/**
 * A typed PostgreSQL client connection over the generated codecs: TLS negotiation, startup,
 * authentication, then simple and extended queries, one request at a time. Every message in
 * either direction is checked against the generated state machine (see wire.ts).
 *
 * Requests are serialised: a request waits for the previous one's ReadyForQuery. Notices,
 * notifications and parameter changes are events; a server error is a `PgError` with every field.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import {
  MESSAGES,
  PROTOCOL_3_0,
  PROTOCOL_VERSIONS,
  type BackendMessage,
  type FrontendMessage,
  type NegotiateProtocolVersion,
} from '../../generated/index.js';
import { cloudberryExtendProtocol, type ExtendProtocol } from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { tlsServerEndPointHash, AuthError, CertificateError } from '../auth/index.js';
import { ProtocolCodecs, type AnyMessage } from '../protocol/extension.js';
import { readErrorFields } from '../protocol/error-fields.js';
import { ValueList, type ValueInit } from '../wire/index.js';
import { ExtendProtocolData } from '../extend-protocol/extend-protocol-data.js';
import { ClientAuthenticator, type AuthenticationMethod } from './authenticate.js';
import { openSocket, sendCancelRequest } from './cancel.js';
import { ClientProtocolError, ConnectionError, PgError } from './errors.js';
import type { ClientEvents } from './events.js';
import { protocolVersionCode, startupParameters, type ConnectOptions, type TlsMode } from './options.js';
import { binaryRow, ResultBuilder, textRow, type Field, type ResultSet } from './results.js';
import { TransactionBoundaries } from './transaction-boundaries.js';
import { ClientWire } from './wire.js';

export interface ExecuteOptions {
  /** Return at most this many rows (0: all); the result is `suspended` if there were more. */
  readonly maxRows?: number;
  /** Ask for results in binary format: rows are then byte arrays. */
  readonly binary?: boolean;
  /** Parameter type OIDs (0 or absent: let the server infer). */
  readonly parameterTypes?: readonly number[];
}

/** A parameter: text, bytes (sent in binary format) or NULL. */
export type Parameter = string | Uint8Array | null;

export interface PreparedStatement {
  readonly name: string;
  readonly parameterTypes: readonly number[];
  /** The columns it returns (in text format), empty if it returns none. */
  readonly fields: readonly Field[];
}

export class PgClientConnection extends EventEmitter<ClientEvents> {
  /** Run-time parameters the server reported (server_version, client_encoding, ...). */
  readonly parameters = new Map<string, string>();
  processId = 0;
  secretKey: Uint8Array = new Uint8Array(0);
  /** The protocol version the session runs at, after any NegotiateProtocolVersion. */
  protocolVersion: number;
  /** `_pq_.` options the server said it does not recognise. */
  unrecognizedOptions: readonly string[] = [];
  authenticationMethod: AuthenticationMethod = 'trust';
  /** The store of Cloudberry 'e' data, when connected with that extension (and the server took it). */
  readonly extendProtocolData: ExtendProtocolData | undefined;
  private readonly boundaries = new TransactionBoundaries();
  private readonly wire: ClientWire;
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;

  private constructor(
    wire: ClientWire,
    private readonly options: ConnectOptions,
  ) {
    super();
    this.wire = wire;
    this.protocolVersion = protocolVersionCode(options.protocolVersion);
    wire.protocolVersion = this.protocolVersion;
    if (options.onNotice) this.on('notice', options.onNotice);
    if (options.onNotification) this.on('notification', options.onNotification);
    const extensions = options.extensions ?? [];
    if (extensions.some((e) => e.name === cloudberryExtendProtocol.name)) this.extendProtocolData = new ExtendProtocolData();
    wire.observe((m) => this.observe(m));
    wire.observe((m) => this.boundaries.observe(m));
    this.boundaries.onEnd((end) => {
      if (end === 'commit') this.extendProtocolData?.transactionCommitted();
      else this.extendProtocolData?.transactionAborted();
    });
    wire.onClose((error) => this.emit('close', error));
  }

  /** Connects, negotiates TLS, logs in, and resolves once the server is ready for queries. */
  static async connect(options: ConnectOptions): Promise<PgClientConnection> {
    const socket = await openSocket(options.host, options.port, options.connectTimeoutMs);
    const codecs = new ProtocolCodecs(options.extensions ?? []);
    const wire = new ClientWire(socket, codecs);
    const conn = new PgClientConnection(wire, options);
    const timer = setTimeout(
      () => wire.fail(new ConnectionError('08001', `timed out logging in to ${options.host}:${options.port}`)),
      options.connectTimeoutMs ?? 30_000,
    );
    try {
      await conn.startup();
    } catch (err) {
      wire.fail(err instanceof Error ? err : new Error(String(err)));
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return conn;
  }

  get transactionStatus(): 'I' | 'T' | 'E' {
    return this.boundaries.status;
  }

  /** The connection runs over TLS. */
  get encrypted(): boolean {
    return this.wire.encrypted;
  }

  get closed(): boolean {
    return this.wire.closed;
  }

  /** The client's state-machine state (the server's state as the client tracks it). */
  get state(): string {
    return this.wire.fsm.state;
  }

  // ---- startup ------------------------------------------------------------------------------------

  private tlsMode(): TlsMode {
    return this.options.tls ?? 'prefer';
  }

  private tlsOptions(): ConnectionOptions {
    const o = this.options;
    const servername = o.servername ?? (isIP(o.host) === 0 ? o.host : undefined);
    return {
      ...(o.ca !== undefined ? { ca: o.ca as ConnectionOptions['ca'] } : {}),
      rejectUnauthorized: o.rejectUnauthorized ?? o.ca !== undefined,
      ...(servername !== undefined ? { servername } : {}),
    };
  }

  private async startup(): Promise<void> {
    const wire = this.wire;
    const mode = this.tlsMode();
    if (mode !== 'disable') {
      wire.send([{ type: 'SSLRequest' }]);
      const reply = await wire.receive();
      if (reply.type === 'SSLAccepted') await wire.startTls(this.tlsOptions());
      else if (reply.type === 'SSLRejected') {
        if (mode === 'require') throw new ConnectionError('08001', 'server does not support SSL, but SSL was required');
      } else if (reply.type === 'ErrorResponse') throw new PgError(readErrorFields(reply as BackendMessage & { type: 'ErrorResponse' }));
    }
    wire.send([{ type: 'StartupMessage', protocolVersion: this.protocolVersion, parameters: startupParameters(this.options) }]);
    const auth = new ClientAuthenticator({
      user: this.options.user,
      password: this.options.password,
      channelBinding: this.channelBinding(),
      channelBindingMode: this.options.channelBinding ?? 'prefer',
    });
    for (;;) {
      const m = (await wire.receive()) as BackendMessage;
      switch (m.type) {
        case 'ErrorResponse':
          throw new PgError(readErrorFields(m));
        case 'NegotiateProtocolVersion':
          this.negotiated(m);
          break;
        case 'BackendKeyData':
          this.processId = m.processId;
          this.secretKey = Uint8Array.from(m.secretKey);
          break;
        case 'ReadyForQuery':
          this.authenticationMethod = auth.method;
          return;
        default: {
          let answer: FrontendMessage | undefined;
          try {
            answer = auth.respond(m);
          } catch (err) {
            if (err instanceof AuthError) throw new PgError({ severity: 'FATAL', code: err.sqlstate, message: err.message, ...(err.detail ? { detail: err.detail } : {}) });
            throw err;
          }
          if (answer) wire.send([answer]);
        }
      }
    }
  }

  private channelBinding(): Buffer | undefined {
    const cert = this.wire.tlsSocket?.getPeerCertificate();
    if (!cert?.raw) return undefined;
    try {
      return tlsServerEndPointHash(cert.raw);
    } catch (err) {
      if (err instanceof CertificateError) return undefined;
      throw err;
    }
  }

  private negotiated(m: NegotiateProtocolVersion): void {
    const newest = m.newestVersion >>> 0;
    if (newest > this.protocolVersion || !PROTOCOL_VERSIONS.some((v) => v.code === newest) || newest < PROTOCOL_3_0) {
      throw new ClientProtocolError(
        'NegotiateProtocolVersion',
        this.wire.fsm.state,
        `the server offered protocol ${newest >>> 16}.${newest & 0xffff}, which is not a version this client asked for or supports`,
      );
    }
    this.protocolVersion = newest;
    this.wire.protocolVersion = newest;
    this.unrecognizedOptions = m.unrecognizedOptions;
  }

  // ---- what the server sends on its own -----------------------------------------------------------

  private observe(m: BackendMessage | AnyMessage): void {
    const msg = m as BackendMessage;
    switch (msg.type) {
      case 'ParameterStatus':
        this.parameters.set(msg.name, msg.value);
        this.emit('parameter', msg.name, msg.value);
        return;
      case 'NoticeResponse':
        this.emit('notice', readErrorFields(msg));
        return;
      case 'NotificationResponse':
        this.emit('notification', { processId: msg.processId, channel: msg.channel, payload: msg.payload });
        return;
      case 'CommandComplete':
        this.emit('commandComplete', msg.tag);
        return;
      default:
        break;
    }
    if ((m as ExtendProtocol).type === 'ExtendProtocol') this.extendProtocolMessage(m as ExtendProtocol);
    if (MESSAGES[m.type] === undefined) this.emit('extensionMessage', m);
  }

  private extendProtocolMessage(m: ExtendProtocol): void {
    const option = cloudberryExtendProtocol.option;
    if (this.extendProtocolData === undefined || this.unrecognizedOptions.includes(option)) {
      throw new ClientProtocolError('ExtendProtocol', this.wire.fsm.state, `the server sent 'e' although ${option} was not granted`);
    }
    this.extendProtocolData.store(m);
  }

  // ---- requests -----------------------------------------------------------------------------------

  /** Runs requests one after another. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Sends a request and collects its answer up to ReadyForQuery; rejects with the first PgError. */
  private async request<V>(messages: readonly (FrontendMessage | AnyMessage)[], builder: ResultBuilder<V>, extra?: (m: BackendMessage) => boolean): Promise<ResultSet<V>[]> {
    this.wire.send(messages);
    for (;;) {
      const m = (await this.wire.receive()) as BackendMessage;
      if (m.type === 'ReadyForQuery') break;
      if (m.type === 'CopyInResponse') {
        this.wire.send([{ type: 'CopyFail', message: 'COPY FROM STDIN is not supported by this client' }]);
        continue;
      }
      if (builder.handle(m)) continue;
      extra?.(m);
    }
    if (builder.error) throw Object.assign(builder.error, { results: builder.results });
    return builder.results;
  }

  /** Simple query: every statement's result set, rows as text (null for NULL). */
  query(sql: string): Promise<ResultSet[]> {
    return this.serial(() => this.request([{ type: 'Query', query: sql }], new ResultBuilder(textRow)));
  }

  /** Extended query with the unnamed statement and portal: Parse, Bind, Describe, Execute, Sync. */
  execute(sql: string, params?: readonly Parameter[], options?: ExecuteOptions & { binary?: false }): Promise<ResultSet<string | null>>;
  execute(sql: string, params: readonly Parameter[], options: ExecuteOptions & { binary: true }): Promise<ResultSet<Uint8Array | null>>;
  execute(sql: string, params: readonly Parameter[] = [], options: ExecuteOptions = {}): Promise<ResultSet<string | null> | ResultSet<Uint8Array | null>> {
    return this.serial(async () => {
      const parse: FrontendMessage = { type: 'Parse', statement: '', query: sql, parameterTypes: options.parameterTypes ?? [] };
      const results = await this.request([parse, ...this.portalMessages('', params, options)], builderFor(options));
      return results[0] as ResultSet<string | null> | ResultSet<Uint8Array | null>;
    });
  }

  /** Parses and describes a named statement. */
  prepare(name: string, sql: string, parameterTypes: readonly number[] = []): Promise<PreparedStatement> {
    return this.serial(async () => {
      let types: readonly number[] = [];
      const builder = new ResultBuilder(textRow);
      await this.request(
        [{ type: 'Parse', statement: name, query: sql, parameterTypes }, { type: 'Describe', target: 'S', name }, { type: 'Sync' }],
        builder,
        (m) => {
          if (m.type === 'ParameterDescription') types = m.parameterTypes;
          return true;
        },
      );
      return { name, parameterTypes: types, fields: builder.describedFields ?? [] };
    });
  }

  /** Binds and executes a statement made by `prepare`. */
  executePrepared(name: string, params?: readonly Parameter[], options?: ExecuteOptions & { binary?: false }): Promise<ResultSet<string | null>>;
  executePrepared(name: string, params: readonly Parameter[], options: ExecuteOptions & { binary: true }): Promise<ResultSet<Uint8Array | null>>;
  executePrepared(name: string, params: readonly Parameter[] = [], options: ExecuteOptions = {}): Promise<ResultSet<string | null> | ResultSet<Uint8Array | null>> {
    return this.serial(async () => (await this.request(this.portalMessages(name, params, options), builderFor(options)))[0] as ResultSet<string | null> | ResultSet<Uint8Array | null>);
  }

  /** Closes a named statement. */
  closePrepared(name: string): Promise<void> {
    return this.serial(async () => {
      await this.request([{ type: 'Close', target: 'S', name }, { type: 'Sync' }], new ResultBuilder(textRow));
    });
  }

  private portalMessages(statement: string, params: readonly Parameter[], options: ExecuteOptions): FrontendMessage[] {
    const formats = params.map((p) => (p instanceof Uint8Array ? 1 : 0));
    return [
      {
        type: 'Bind',
        portal: '',
        statement,
        parameterFormats: formats.some((f) => f === 1) ? formats : [],
        parameters: ValueList.from(params as readonly ValueInit[]),
        resultFormats: options.binary ? [1] : [],
      },
      { type: 'Describe', target: 'P', name: '' },
      { type: 'Execute', portal: '', maxRows: options.maxRows ?? 0 },
      { type: 'Sync' },
    ];
  }

  /**
   * Sends frontend messages of one of the connection's extensions that the server answers with
   * nothing (a hint, a marker), after the requests before them. Each is checked against the
   * state machine as the extension amended it; a message it does not allow now is refused.
   */
  sendExtension(messages: readonly AnyMessage[]): Promise<void> {
    return this.serial(async () => this.wire.send(messages));
  }

  /** Asks the server, on a new connection, to cancel what this session is running. */
  cancel(): Promise<void> {
    return sendCancelRequest({
      host: this.options.host,
      port: this.options.port,
      processId: this.processId,
      secretKey: this.secretKey,
      tls: this.encrypted ? this.tlsMode() : 'disable',
      tlsOptions: this.tlsOptions(),
    });
  }

  /** Sends Terminate once the requests before it are done, and closes. */
  close(): Promise<void> {
    this.closing ??= this.queue.then(() => this.wire.end([{ type: 'Terminate' }]));
    return this.closing;
  }
}

function builderFor(options: ExecuteOptions): ResultBuilder<string | Uint8Array | null> {
  return options.binary ? new ResultBuilder<string | Uint8Array | null>(binaryRow) : new ResultBuilder<string | Uint8Array | null>(textRow);
}
