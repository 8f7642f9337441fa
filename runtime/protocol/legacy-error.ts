/**
 * The error a client asking for a protocol older than 3.0 gets, in the format it can read (the
 * spec's `legacyErrorFormat`): the type byte, then "SEVERITY:  message" and a newline, zero
 * terminated, with no length word. It is the only thing such a client is ever sent.
 */
import { LEGACY_ERROR_FORMAT, type ErrorResponse } from '../../generated/index.js';
import type { Writer } from '../wire/index.js';
import { readErrorFields } from './error-fields.js';

/** Whether a StartupMessage asking for this protocol version is answered in the legacy format. */
export function wantsLegacyErrors(protocolVersion: number): boolean {
  return protocolVersion >>> 16 < LEGACY_ERROR_FORMAT.belowMajor;
}

export function encodeLegacyError(w: Writer, error: ErrorResponse): void {
  const info = readErrorFields(error);
  w.rawByte(LEGACY_ERROR_FORMAT.typeByte);
  w.cstring(LEGACY_ERROR_FORMAT.text.replace('{severity}', info.severity).replace('{message}', info.message));
}
