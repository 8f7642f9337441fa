/** The handler engine: serve SQL from your own code over the PostgreSQL protocol. */
export { HandlerEngine } from './handler-engine.js';
export {
  HandlerError,
  type Handlers,
  type HandlerContext,
  type HandlerEngineOptions,
  type Column,
  type TypeRef,
  type Row,
  type Rows,
  type Prepared,
  type BoundPortal,
  type ExecuteResult,
  type QueryResult,
  type CopyIn,
  type CopyOut,
  type TransactionStatus,
} from './api.js';
export { splitStatements, countPlaceholders, classifyStatement, stripComments, copyFormatOf, type StatementKind } from './sql-text.js';
export { prepareTypeLookup, executeTypeLookup } from './type-catalog.js';
