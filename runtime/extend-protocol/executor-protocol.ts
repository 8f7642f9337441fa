/**
 * The Cloudberry executor dialect as a wire protocol of its own: PostgreSQL's protocol 3 plus the
 * 'e' extension, registered under its own name so that a server runs it on a listener beside plain
 * protocol 3 (clients of the plain listener who ask for 'e' are told it is unknown).
 */
import { cloudberryExtendProtocol } from '../../generated/extensions/cloudberry-extend-protocol/index.js';
import { postgresProtocol } from '../server/postgres-protocol.js';
import type { WireProtocol } from '../server/protocol-registry.js';

export const EXECUTOR_PROTOCOL = 'cloudberry-executor';

export function cloudberryExecutorProtocol(): WireProtocol {
  return postgresProtocol({ name: EXECUTOR_PROTOCOL, extensions: [cloudberryExtendProtocol] });
}
