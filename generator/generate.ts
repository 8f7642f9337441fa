/**
 * From spec directories to generated files: load, validate against the schema, build the model,
 * emit one bundle for the base protocol and one per extension.
 */
import { readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import Handlebars from 'handlebars';
import { findSpecFiles, loadSpecFiles } from './load.js';
import { validateAgainstSchema } from './validate-schema.js';
import { buildModel, type SpecModel } from './model.js';
import { emitBundle } from './emit/bundle.js';

export { PACKAGE_ROOT } from './package-root.js';
import { PACKAGE_ROOT } from './package-root.js';

export interface GenerateOptions {
  /** Spec directories or files; their union is one spec. */
  readonly specs: readonly string[];
  /** The output directory. */
  readonly out: string;
  /** Module specifier of pgspec's wire runtime; by default a relative path inside this package, else `pgspec/wire`. */
  readonly wireImport?: string;
}

/** Loads and checks a spec; throws SpecError naming file, path and expectation on any problem. */
export function loadModel(specs: readonly string[]): SpecModel {
  const files = loadSpecFiles(findSpecFiles(specs));
  validateAgainstSchema(files);
  return buildModel(files);
}

/** Every generated file, by path relative to the output directory. */
export function generate(options: GenerateOptions): { model: SpecModel; files: Map<string, string> } {
  const model = loadModel(options.specs);
  const outAbs = resolve(options.out);
  const wireFrom = (dir: string): string => {
    if (options.wireImport) return options.wireImport;
    if (!(dir + sep).startsWith(PACKAGE_ROOT + sep)) return 'pgspec/wire';
    const rel = relative(dir, join(PACKAGE_ROOT, 'runtime', 'wire', 'index.js')).split(sep).join('/');
    return rel.startsWith('.') ? rel : `./${rel}`;
  };
  const files = new Map<string, string>();
  const baseSources = model.files.filter((f) => !model.extensions.some((e) => e.file === f));
  for (const [name, text] of emitBundle(model, { extension: undefined, wireImport: wireFrom(outAbs), baseImport: './index.js', sources: baseSources })) {
    files.set(name, text);
  }
  files.set('README.md', readme(model, undefined, baseSources));
  for (const ext of model.extensions) {
    const dir = join('extensions', ext.name);
    for (const [name, text] of emitBundle(model, { extension: ext, wireImport: wireFrom(join(outAbs, dir)), baseImport: '../../index.js', sources: [ext.file] })) {
      files.set(join(dir, name).split(sep).join('/'), text);
    }
    files.set(`${dir.split(sep).join('/')}/README.md`, readme(model, ext.name, [ext.file]));
  }
  return { model, files };
}

let template: Handlebars.TemplateDelegate | undefined;

function readme(model: SpecModel, extension: string | undefined, sources: readonly string[]): string {
  template ??= Handlebars.compile(readFileSync(join(PACKAGE_ROOT, 'generator', 'templates', 'bundle-readme.md.hbs'), 'utf8'), { noEscape: true });
  const ext = model.extensions.find((e) => e.name === extension);
  const messages = model.messages
    .filter((m) => m.extension === extension)
    .map((m) => ({
      name: m.name,
      directions: m.directions.join(', '),
      wire: m.framing === 'startup' ? `startup code ${m.discriminator?.value ?? '(version)'}` : `\`${m.typeByte}\`${m.discriminator?.value !== undefined ? ` (${m.discriminator.field} ${m.discriminator.value})` : ''}`,
      since: m.since,
      limit: Object.values(m.limits).map((l) => l!.value).join(' / '),
    }));
  const states =
    extension === undefined
      ? model.stateMachine.states.map((s) => ({
          name: s.name,
          phase: s.phase,
          speaker: s.speaker,
          accepts: s.recv.filter((r) => r.extension === undefined && r.action !== 'reject').flatMap((r) => r.messages).join(', ') || '-',
        }))
      : [];
  return template({
    title: ext ? ext.title : model.protocol.title,
    doc: (ext ? ext.doc : model.protocol.doc).trim(),
    sources,
    messages,
    replies: model.replies.filter((r) => r.extension === extension),
    states,
  });
}
