/**
 * The docs site: the spec rendered with Handlebars templates into static HTML + CSS (with an
 * offline search index and the state diagram drawn at build time), the same pages as Markdown
 * under `markdown/`, and TypeDoc's API reference under `api/`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import Handlebars from 'handlebars';
import { loadModel, PACKAGE_ROOT } from '../generate.js';
import type { SpecModel } from '../model.js';
import { Writer } from '../../runtime/wire/index.js';
import { buildApiDocs } from './api.js';
import { inlineSvg, renderSvg, stateMachineDot } from './diagram.js';
import { markdownToHtml, resolveMarkdownLinks } from './markdown-lite.js';
import { Views, type EncoderLookup, type MessageView } from './views.js';

export interface BuildDocsOptions {
  /** Spec directories or files; their union is one spec. */
  readonly specs: readonly string[];
  /** The site directory (created; a previous site there is replaced). */
  readonly out: string;
  /** Build the TypeDoc API reference into `<out>/api` (default true). */
  readonly api?: boolean;
}

export interface BuildDocsResult {
  readonly model: SpecModel;
  /** Files written, relative to `out`. */
  readonly files: readonly string[];
  /** Problems worth telling the user that did not stop the build. */
  readonly warnings: readonly string[];
}

const DOCS_DIR = join(PACKAGE_ROOT, 'generator', 'docs');
const MARKER = '.pgspec-docs';

type Format = 'html' | 'md';

export async function buildDocs(options: BuildDocsOptions): Promise<BuildDocsResult> {
  const model = loadModel(options.specs);
  const out = resolve(options.out);
  prepareOutDir(out);
  const written: string[] = [];
  const write = (rel: string, text: string): void => {
    const p = join(out, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    written.push(rel);
  };
  write(MARKER, 'Written by `pgspec docs`; the whole directory is replaced on the next build.\n');

  const warnings: string[] = [];
  let apiPages: ReadonlyMap<string, string> = new Map();
  if (options.api !== false) {
    const api = await buildApiDocs(PACKAGE_ROOT, out);
    if (api.skipped) warnings.push(`API reference not built: ${api.skipped}`);
    apiPages = api.pages;
  }

  const views = new Views(model, apiPages, await generatedEncoders(model));
  const messages = model.messages.map((m) => views.message(m));
  const replies = model.replies.map((r) => views.reply(r));
  const all = [...messages, ...replies];
  const states = model.stateMachine.states.map((s) => views.state(s));
  warnings.push(...views.warnings);

  const svgHtml = await renderSvg(stateMachineDot(model, (s) => `#state-${s}`));
  const svgFile = await renderSvg(stateMachineDot(model, () => undefined));

  const base = (v: MessageView): boolean => v.extension === undefined;
  const byDirection = (dir: string): MessageView[] => all.filter((v) => base(v) && v.directionList.includes(dir)).sort((a, b) => a.name.localeCompare(b.name));
  const extensions = model.extensions.map((e) => ({
    ...e,
    target: `extensions/${e.name}/index`,
    messages: messages.filter((m) => m.extension?.name === e.name),
    enums: model.enums.filter((x) => x.extension === e.name).map((x) => ({ name: x.name, target: `enums#enum-${x.name}` })),
    rules: model.stateMachine.states.flatMap((s) =>
      [...s.recv.map((r) => ({ r, side: 'frontend sends' })), ...s.send.map((r) => ({ r, side: 'backend sends' }))]
        .filter(({ r }) => r.extension === e.name)
        .map(({ r, side }) => ({ state: views.stateLink(s.name), side, messages: r.messages.map(views.msgLink), to: r.to ? views.stateLink(r.to) : undefined, action: r.action })),
    ),
  }));
  const enums = model.enums.map((e) => ({ ...e, anchor: `enum-${e.name}`, extensionTarget: e.extension ? `extensions/${e.extension}/index` : undefined }));
  const flowSource = readFileSync(join(DOCS_DIR, 'flow.md'), 'utf8');
  const limitsSource = readFileSync(join(PACKAGE_ROOT, 'docs', 'limits-and-guarantees.md'), 'utf8');
  const common = {
    protocol: model.protocol,
    specFiles: model.files,
    stateMachine: model.stateMachine,
  };

  for (const format of ['html', 'md'] as const) {
    const r = new Renderer(format);
    const prefix = format === 'html' ? '' : 'markdown/';
    const page = (slug: string, template: string, title: string, context: object): void => {
      write(`${prefix}${slug}.${format}`, r.page(slug, template, title, { ...common, ...context }));
    };
    page('index', 'index', model.protocol.title, {
      frontend: byDirection('frontend'),
      backend: byDirection('backend'),
      phases: views.byPhase(all.filter(base)),
      replies: replies.filter(base),
      extensions,
      states,
    });
    for (const v of all) page(v.target, 'message', v.name, { m: v });
    page('states', 'states', 'State machine', { states, svg: inlineSvg(svgHtml), svgFile: 'states.svg' });
    if (format === 'html') {
      const flow = markdownToHtml(flowSource, (t) => r.href(t, 'flow'));
      page('flow', 'flow', flow.title, { body: flow.html });
      const limits = markdownToHtml(limitsSource, (t) => r.href(t, 'limits'));
      page('limits', 'flow', limits.title, { body: limits.html });
    } else {
      write('markdown/flow.md', resolveMarkdownLinks(flowSource, (t) => r.href(t, 'flow')));
      write('markdown/limits.md', resolveMarkdownLinks(limitsSource, (t) => r.href(t, 'limits')));
    }
    page('enums', 'enums', 'Enums', { enums });
    page('extensions/index', 'extensions', 'Extensions', { extensions });
    for (const e of extensions) page(e.target, 'extension', e.title, { e });
  }
  write('states.svg', svgFile);
  write('markdown/states.svg', svgFile);
  write('assets/style.css', readFileSync(join(DOCS_DIR, 'assets', 'style.css'), 'utf8'));
  write('assets/search.js', readFileSync(join(DOCS_DIR, 'assets', 'search.js'), 'utf8'));
  write('assets/search-index.js', searchIndex(all, states, extensions, model));
  return { model, files: [...written, ...listApi(out)], warnings };
}

/** Refuses to replace a non-empty directory this build did not write before. */
function prepareOutDir(out: string): void {
  if (existsSync(out) && readdirSync(out).length > 0) {
    if (!existsSync(join(out, MARKER))) throw new Error(`${out} is not empty and was not written by pgspec docs; choose an empty or new directory`);
    for (const name of readdirSync(out)) rmSync(join(out, name), { recursive: true, force: true });
  }
  mkdirSync(out, { recursive: true });
}

function listApi(out: string): string[] {
  const dir = join(out, 'api');
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((d) => d.isFile())
    .map((d) => relative(out, join(d.parentPath, d.name)).split('\\').join('/'));
}

/** The generated encoders, to check the examples against; missing ones (a user's own extension) are fine. */
async function generatedEncoders(model: SpecModel): Promise<EncoderLookup> {
  const fns = new Map<string, (w: Writer, m: never) => void>();
  const load = async (spec: string): Promise<void> => {
    try {
      const mod = (await import(spec)) as Record<string, unknown>;
      for (const [k, v] of Object.entries(mod)) if (k.startsWith('encode') && typeof v === 'function' && !fns.has(k)) fns.set(k, v as (w: Writer, m: never) => void);
    } catch {
      // Not generated (yet): the examples are still encoded from the model.
    }
  };
  await load('../../generated/index.js');
  for (const e of model.extensions) await load(`../../generated/extensions/${e.name}/index.js`);
  return (name) => {
    const fn = fns.get(`encode${name}`);
    if (!fn) return undefined;
    return {
      name: `encode${name}`,
      encode: (m) => {
        const w = new Writer(256);
        fn(w, m as never);
        return new Uint8Array(w.take());
      },
    };
  };
}

function searchIndex(all: readonly MessageView[], states: readonly { name: string; anchor: string; doc: string; phase: string }[], extensions: readonly { name: string; title: string; target: string }[], model: SpecModel): string {
  const entries = [
    ...all.map((v) => ({ n: v.name, k: v.extension ? 'extension message' : v.kind === 'reply' ? 'reply' : `${v.directionList.join('/')} message`, d: `${v.wireId} — ${v.summary}`, u: `${v.target}.html` })),
    ...states.map((s) => ({ n: s.name, k: 'state', d: `${s.phase} — ${s.doc}`, u: `states.html#${s.anchor}` })),
    ...model.enums.map((e) => ({ n: e.name, k: 'enum', d: e.doc.trim(), u: `enums.html#enum-${e.name}` })),
    ...extensions.map((e) => ({ n: e.title, k: 'extension', d: e.name, u: `${e.target}.html` })),
    { n: 'Message flow', k: 'page', d: 'The flow rules in prose', u: 'flow.html' },
    { n: 'Limits and guarantees', k: 'page', d: 'Every limit and timeout, its default, how to change it, measured figures', u: 'limits.html' },
    { n: 'State machine', k: 'page', d: 'The connection state diagram', u: 'states.html' },
  ];
  // A script, not JSON: a page opened from file:// may not fetch() a sibling file.
  return `// Generated by pgspec docs.\nwindow.PGSPEC_SEARCH = ${JSON.stringify(entries).replace(/</g, '\\u003c')};\n`;
}

class Renderer {
  private readonly hb = Handlebars.create();
  private readonly cache = new Map<string, Handlebars.TemplateDelegate>();

  constructor(private readonly format: Format) {
    const hb = this.hb;
    hb.registerHelper('href', (target: string, options: Handlebars.HelperOptions) => this.href(target, String(options.data.root.slug)));
    hb.registerHelper('site', (target: string, options: Handlebars.HelperOptions) => this.siteHref(target, String(options.data.root.slug)));
    hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    hb.registerHelper('json', (v: unknown) => JSON.stringify(v));
    hb.registerHelper('join', (xs: readonly string[], sep: string) => xs.join(typeof sep === 'string' ? sep : ', '));
    hb.registerHelper('cell', (s: unknown) => String(s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' '));
    hb.registerHelper('upper', (s: string) => s.charAt(0).toUpperCase() + s.slice(1));
    hb.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).join(''));
    hb.registerHelper('pad', (s: string, n: number) => String(s).padEnd(n));
    hb.registerPartial('boxes', this.source('partials/boxes.html'));
  }

  private source(name: string): string {
    return readFileSync(join(DOCS_DIR, 'templates', `${name}.hbs`), 'utf8');
  }

  private template(name: string): Handlebars.TemplateDelegate {
    let t = this.cache.get(name);
    if (!t) {
      t = this.hb.compile(this.source(name), { noEscape: this.format === 'md', strict: false });
      this.cache.set(name, t);
    }
    return t;
  }

  /** A link from page `from` to `target` ("messages/Bind#x", "message:Bind", "state:Ready", "page:flow"). */
  href(target: string, from: string): string {
    const t = this.linkTarget(target);
    const [path, hash] = t.split('#') as [string, string | undefined];
    const file = path === '' ? `${from}.${this.format}` : `${path}.${this.format}`;
    const rel = posix.relative(posix.dirname(`${from}.${this.format}`), file) || posix.basename(file);
    return `${rel}${hash ? `#${hash}` : ''}`;
  }

  /** A link to a file of the HTML site (the API reference) from any page of this format. */
  siteHref(target: string, from: string): string {
    const fromFile = `${this.format === 'md' ? 'markdown/' : ''}${from}.${this.format}`;
    return posix.relative(posix.dirname(fromFile), target);
  }

  linkTarget(target: string): string {
    const m = /^(message|state|page):(.+)$/.exec(target);
    if (!m) return target;
    if (m[1] === 'state') return `states#state-${m[2]}`;
    if (m[1] === 'page') return m[2]!;
    // Extension messages live under extensions/; the flow page only names base messages.
    return `messages/${m[2]}`;
  }

  page(slug: string, template: string, title: string, context: object): string {
    const root = posix.relative(posix.dirname(slug), '.') || '.';
    const data = { ...context, slug, title, rootPath: root === '.' ? '' : `${root}/` };
    const body = this.template(`${template}.${this.format}`)(data);
    if (this.format === 'md') return body.replace(/\n{3,}/g, '\n\n');
    return this.template('layout.html')({ ...data, body });
  }
}
