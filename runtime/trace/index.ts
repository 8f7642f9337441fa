/** The wire tracer: a man-in-the-middle that prints every message both ways, decoded and checked. */
export { WireTracer, type WireTracerOptions } from './tracer.js';
export { formatJson, formatText, type TraceEvent } from './format.js';
export { Framer, type FrameKind } from './framer.js';
