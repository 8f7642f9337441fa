/**
 * One-dimensional arrays of any codec's type. Text: '{a,"b c",NULL}' with elements quoted when
 * empty, spelled NULL, or holding braces, quotes, commas, backslashes or white space. Binary:
 * dimension count, has-null flag, element type OID, then (length, lower bound) per dimension and
 * each element as a length-prefixed value (-1 for NULL).
 */
import { Buffer } from 'node:buffer';
import { asBuffer, invalidBinary, invalidText, ValueError, wrongValue, type DataTypeInfo, type ValueCodec } from './codec.js';

const NEEDS_QUOTES = /^$|^null$|[{}",\\\s]/i;

function quote(element: string): string {
  return NEEDS_QUOTES.test(element) ? `"${element.replace(/["\\]/g, (c) => `\\${c}`)}"` : element;
}

/** Splits '{...}' into raw elements (null for an unquoted NULL); one dimension only. */
export function parseArrayText(text: string, typeName: string): (string | null)[] {
  let t = text.trim();
  // An optional dimension decoration: '[1:3]={...}'.
  const deco = /^\[-?\d+:-?\d+\]\s*=\s*/.exec(t);
  if (deco) t = t.slice(deco[0].length);
  if (!t.startsWith('{') || !t.endsWith('}')) throw invalidText(`${typeName}[]`, text);
  const body = t.slice(1, -1);
  const out: (string | null)[] = [];
  if (body.trim() === '') return out;
  let i = 0;
  for (;;) {
    while (i < body.length && /\s/.test(body[i]!)) i++;
    if (body[i] === '{') throw new ValueError('0A000', `multidimensional arrays are not supported: "${text}"`);
    let value = '';
    let spaces = '';
    let inQuotes = false;
    let literal = false; // quoted or escaped: never NULL, may be empty
    for (; i < body.length; i++) {
      const c = body[i]!;
      if (inQuotes) {
        if (c === '"') inQuotes = false;
        else if (c === '\\') value += body[++i] ?? '';
        else value += c;
        continue;
      }
      if (c === ',') break;
      if (/\s/.test(c)) {
        // White space outside quotes counts only between other characters.
        spaces += c;
        continue;
      }
      if (c === '{' || c === '}') throw invalidText(`${typeName}[]`, text);
      if (value !== '' || literal) value += spaces;
      spaces = '';
      if (c === '"') {
        inQuotes = true;
        literal = true;
      } else if (c === '\\') {
        literal = true;
        value += body[++i] ?? '';
      } else value += c;
    }
    if (inQuotes || (!literal && value === '')) throw invalidText(`${typeName}[]`, text);
    out.push(!literal && value.toUpperCase() === 'NULL' ? null : value);
    if (i >= body.length) break;
    i++; // the comma
  }
  return out;
}

/** The array codec over an element codec; the array type's OID comes from the element's spec entry. */
export function arrayCodec<T, In>(element: ValueCodec<T, In>): ValueCodec<(T | null)[], readonly (In | null | undefined)[]> {
  const elem = element.type;
  if (elem.arrayOid === undefined) throw new Error(`type ${elem.name} has no array type in the spec`);
  const type: DataTypeInfo = { name: `_${elem.name}`, oid: elem.arrayOid, size: -1 };
  const check = (v: unknown): readonly (In | null | undefined)[] => {
    if (!Array.isArray(v)) throw wrongValue(type.name, v);
    if (v.some((x) => Array.isArray(x) && !(x instanceof Uint8Array))) throw new ValueError('0A000', 'multidimensional arrays are not supported');
    return v;
  };
  return {
    type,
    encodeText: (v) => `{${check(v).map((x) => (x === null || x === undefined ? 'NULL' : quote(element.encodeText(x)))).join(',')}}`,
    decodeText: (text) => parseArrayText(text, elem.name).map((x) => (x === null ? null : element.decodeText(x))),
    encodeBinary: (v) => {
      const items = check(v);
      const parts: Buffer[] = [];
      let hasNull = 0;
      const header = Buffer.alloc(items.length === 0 ? 12 : 20);
      header.writeInt32BE(items.length === 0 ? 0 : 1, 0);
      header.writeUInt32BE(elem.oid, 8);
      if (items.length > 0) {
        header.writeInt32BE(items.length, 12);
        header.writeInt32BE(1, 16);
      }
      parts.push(header);
      for (const x of items) {
        const len = Buffer.allocUnsafe(4);
        if (x === null || x === undefined) {
          hasNull = 1;
          len.writeInt32BE(-1);
          parts.push(len);
        } else {
          const bytes = asBuffer(element.encodeBinary(x));
          len.writeInt32BE(bytes.length);
          parts.push(len, bytes);
        }
      }
      header.writeInt32BE(hasNull, 4);
      return Buffer.concat(parts);
    },
    decodeBinary: (raw) => {
      const b = asBuffer(raw);
      if (b.length < 12) throw invalidBinary(type.name, 'array header too short');
      const ndim = b.readInt32BE(0);
      const elemOid = b.readUInt32BE(8);
      if (elemOid !== elem.oid) throw invalidBinary(type.name, `wrong element type ${elemOid}`);
      if (ndim === 0) return [];
      if (ndim !== 1) throw new ValueError('0A000', 'multidimensional arrays are not supported');
      if (b.length < 20) throw invalidBinary(type.name, 'array header too short');
      const count = b.readInt32BE(12);
      const out: (T | null)[] = [];
      let p = 20;
      for (let k = 0; k < count; k++) {
        if (p + 4 > b.length) throw invalidBinary(type.name, 'insufficient data left in message');
        const len = b.readInt32BE(p);
        p += 4;
        if (len < 0) out.push(null);
        else {
          if (p + len > b.length) throw invalidBinary(type.name, 'insufficient data left in message');
          out.push(element.decodeBinary(b.subarray(p, p + len)));
          p += len;
        }
      }
      if (p !== b.length) throw invalidBinary(type.name, 'trailing bytes after the last element');
      return out;
    },
  };
}
