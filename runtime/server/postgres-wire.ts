/**
 * Protocol 3's side of one connection (the `wire` of its Connection): the socket input, the
 * frontend decoder, the state machine and the batched output, made by the `accept` hook. The
 * hooks in postgres-*.ts work on it.
 */
import type { Socket } from 'node:net';
import { PROTOCOL_3_0, type BackendMessage, type FrontendMessage } from '../../generated/index.js';
import type { MalformedMessage } from '../engine.js';
import { StateMachine } from '../protocol/state-machine.js';
import type { ProtocolCodecs } from '../protocol/extension.js';
import { StreamDecoder, type DecodeContext, type ProtocolDecodeError } from '../wire/index.js';
import { Output } from './output.js';
import type { SharedServices } from './protocol-registry.js';
import { SocketInput } from './socket-input.js';

/** What one registration of protocol 3 fixes for all its connections. */
export interface PostgresConfig {
  /** The registry name, for violation reports. */
  readonly name: string;
  readonly codecs: ProtocolCodecs;
  /** `_pq_.` options some registered extension handles. */
  readonly claimableOptions: ReadonlySet<string>;
}

/** A well-framed message whose body did not decode, read after login: the engine answers it. */
export class MalformedInput {
  constructor(
    readonly message: MalformedMessage,
    /** Its type byte, for the state machine's texts. */
    readonly byte: number,
    /** The decoder's own account, for the FATAL when the engine cannot answer it. */
    readonly detail: string,
  ) {}
}

export class PostgresWire {
  readonly input: SocketInput;
  readonly decoder: StreamDecoder<FrontendMessage>;
  readonly fsm: StateMachine;
  readonly out: Output;
  /** The negotiated protocol version (3.0 until the StartupMessage says otherwise). */
  protocolVersion: number = PROTOCOL_3_0;
  /** A message read ahead while gathering a run (or why it could not be read): the next read returns it. */
  stashed: FrontendMessage | MalformedInput | ProtocolDecodeError | undefined;
  /** The decoder's context for the current state, kept while it holds (see postgres-input.ts). */
  decodeContext: DecodeContext | undefined;
  /** The client_encoding the engine last reported, and whether it makes strings subject to a UTF-8 check. */
  clientEncoding: string | undefined;
  validateUtf8 = false;
  /** The client asked for a protocol older than 3.0: its one error goes out in the legacy format. */
  legacyErrors = false;
  /** Messages the engine produced outside a command, waiting for the client to be idle. */
  readonly pendingAsync: BackendMessage[] = [];

  constructor(
    socket: Socket,
    services: SharedServices,
    readonly config: PostgresConfig,
  ) {
    const { codecs, name } = config;
    this.fsm = new StateMachine(codecs.stateTables);
    this.decoder = new StreamDecoder(codecs.frontendTable, { framing: 'startup' });
    this.input = new SocketInput(socket, (chunk) => {
      this.decoder.push(chunk);
      return this.decoder.buffered;
    });
    this.out = new Output(socket, this.fsm, codecs, (violation, message) =>
      services.reportViolation({ protocol: name, state: violation.state, message: message.type, detail: violation.message }),
    );
  }

  /** The socket the client is on now (TLS once negotiated). */
  get socket(): Socket {
    return this.input.socket;
  }
}
