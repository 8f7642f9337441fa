/**
 * What can go wrong on a client connection, as three classes a caller can tell apart: the server
 * answered with an error (`PgError`), the server broke the protocol (`ClientProtocolError`), or the
 * connection itself failed (`ConnectionError`). Each carries a SQLSTATE in `code`.
 */
import type { ErrorInfo } from '../protocol/error-fields.js';

/** An ErrorResponse from the server, with every field it sent. */
export class PgError extends Error {
  readonly code: string;
  readonly severity: string;
  readonly fields: ErrorInfo;

  constructor(fields: ErrorInfo) {
    super(fields.message);
    this.name = 'PgError';
    this.fields = fields;
    this.code = fields.code;
    this.severity = fields.severity;
  }

  get detail(): string | undefined {
    return this.fields.detail;
  }

  get hint(): string | undefined {
    return this.fields.hint;
  }

  get position(): string | undefined {
    return this.fields.position;
  }
}

/**
 * The server sent something the protocol does not allow: bytes that do not decode as a message,
 * or a message the state machine does not expect in the connection's state. The connection is
 * closed when this is raised.
 */
export class ClientProtocolError extends Error {
  /** protocol_violation */
  readonly code = '08P01';

  constructor(
    /** The offending message (or its type byte when it is unknown). */
    readonly messageName: string,
    /** The client's state-machine state when it arrived. */
    readonly state: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`protocol error: ${message} (message ${messageName}, state ${state})`, options);
    this.name = 'ClientProtocolError';
  }
}

/** The connection could not be made, was refused TLS that was required, or was lost. */
export class ConnectionError extends Error {
  constructor(
    /** 08001 could not connect, 08006 connection lost, 08003 used after close. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConnectionError';
  }
}
