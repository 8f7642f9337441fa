/** The events a client connection emits, and their listener types. */
import type { ErrorInfo } from '../protocol/error-fields.js';
import type { AnyMessage } from '../protocol/extension.js';

export interface Notification {
  readonly processId: number;
  readonly channel: string;
  readonly payload: string;
}

export type NoticeListener = (notice: ErrorInfo) => void;
export type NotificationListener = (notification: Notification) => void;

export interface ClientEvents {
  /** A NoticeResponse (WARNING, NOTICE, INFO...). */
  notice: [notice: ErrorInfo];
  /** A NotificationResponse from LISTEN/NOTIFY. */
  notification: [notification: Notification];
  /** A ParameterStatus: the server reported a (new) value for a run-time parameter. */
  parameter: [name: string, value: string];
  /** A CommandComplete, before the ReadyForQuery that ends its query (e.g. to consume what it reported). */
  commandComplete: [tag: string];
  /** A backend message of one of the connection's extensions (ExtendProtocol included), as decoded. */
  extensionMessage: [message: AnyMessage];
  /** The connection closed; `error` says why when it was not closed by `close()`. */
  close: [error: Error | undefined];
}
