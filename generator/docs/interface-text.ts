/**
 * The TypeScript interface of a message, struct or reply, rendered from the model with the same
 * types (tsType) and doc comments as the generated messages.ts, so a page shows exactly the
 * declaration a user imports. The docs tests compare the two.
 */
import type { MessageModel, ReplyModel, SpecModel, StructModel } from '../model.js';
import { interfaceFields, tsType } from '../emit/field-code.js';

const docText = (text: string): string => text.trim().replace(/\*\//g, '*\u2215');

function comment(text: string, indent: string): string {
  if (!text.includes('\n')) return `${indent}/** ${text} */`;
  const lines = text.split('\n').map((l) => (l === '' ? `${indent} *` : `${indent} * ${l}`));
  return [`${indent}/**`, ...lines, `${indent} */`].join('\n');
}

interface Prop {
  readonly name: string;
  readonly type: string;
  readonly doc: string;
  readonly readonly?: boolean;
}

function render(name: string, doc: string, props: readonly Prop[]): string {
  const body = props.map((p) => `${comment(p.doc, '  ')}\n  ${p.readonly ? 'readonly ' : ''}${p.name}: ${p.type};`);
  return `${comment(doc, '')}\nexport interface ${name} {\n${body.join('\n')}\n}`;
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

export function messageInterface(m: MessageModel, model: SpecModel): string {
  const wire = m.framing === 'startup' ? `untyped startup packet (code ${m.discriminator?.value ?? 'protocol version'})` : `type byte '${m.typeByte}'`;
  return render(m.name, `${docText(m.doc)}\n\n${capitalize(m.directions.join(' and '))} message, ${wire}, since protocol ${m.since}.`, [
    { name: 'type', type: JSON.stringify(m.name), doc: 'The message name: the discriminant of the message unions.', readonly: true },
    ...interfaceFields(m.fields).map((f) => ({ name: f.name, type: tsType(f.type, model), doc: docText(f.doc) })),
  ]);
}

export function structInterface(s: StructModel, model: SpecModel): string {
  return render(
    s.name,
    docText(s.doc),
    interfaceFields(s.fields).map((f) => ({ name: f.name, type: tsType(f.type, model), doc: docText(f.doc) })),
  );
}

export function replyInterface(r: ReplyModel): string {
  return render(r.name, `${docText(r.doc)}\n\nA single unframed byte '${r.byte}' answering ${r.answers}.`, [
    { name: 'type', type: JSON.stringify(r.name), doc: 'The reply name.', readonly: true },
  ]);
}

/** Struct names a message's interface refers to, in the order they are met, nested ones too. */
export function structsUsed(fields: MessageModel['fields'], model: SpecModel, out: string[] = []): string[] {
  for (const f of fields) {
    let t = f.type;
    while (t.kind === 'array') t = t.item;
    if (t.kind === 'struct' && !out.includes(t.name)) {
      out.push(t.name);
      structsUsed(model.structs.find((s) => s.name === (t as { name: string }).name)!.fields, model, out);
    }
  }
  return out;
}
