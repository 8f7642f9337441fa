/**
 * The docs site: built once from spec/ into a temp directory, then checked for completeness,
 * links, interfaces, examples that decode back, a rebuild after a spec change, and a real
 * headless browser opening it from disk.
 */
import { Buffer } from 'node:buffer';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDocs, type BuildDocsResult } from '../../generator/docs/build.js';
import { toPlain } from '../../generator/docs/example.js';
import { messageInterface, replyInterface, structInterface } from '../../generator/docs/interface-text.js';
import { PACKAGE_ROOT } from '../../generator/generate.js';
import { BACKEND_TABLE, FRONTEND_TABLE } from '../../generated/index.js';
import { StreamDecoder, type DirectionTable, type TypedEntry } from '../../runtime/wire/index.js';

const SPEC = join(PACKAGE_ROOT, 'spec');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(PACKAGE_ROOT, 'test-artifacts');

let tmp: string;
let site: string;
let built: BuildDocsResult;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'pgspec-docs-'));
  site = join(tmp, 'site');
  built = await buildDocs({ specs: [SPEC], out: site });
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const read = (rel: string): string => readFileSync(join(site, rel), 'utf8');

function filesUnder(dir: string, ext: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(ext)).map((f) => join(dir, f));
}

const unescapeHtml = (s: string): string =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&#x3D;/g, '=').replace(/&#x60;/g, '`').replace(/&amp;/g, '&');

function pageOf(name: string, ext: 'html' | 'md'): string {
  const m = built.model.messages.find((x) => x.name === name);
  const r = built.model.replies.find((x) => x.name === name);
  const extension = m?.extension ?? r?.extension;
  return `${ext === 'md' ? 'markdown/' : ''}${extension ? `extensions/${extension}` : 'messages'}/${name}.${ext}`;
}

describe('docs site content', () => {
  it('has a page for every message and reply, in HTML and Markdown, and every state', () => {
    const { model } = built;
    for (const name of [...model.messages.map((m) => m.name), ...model.replies.map((r) => r.name)]) {
      expect(existsSync(join(site, pageOf(name, 'html'))), pageOf(name, 'html')).toBe(true);
      expect(existsSync(join(site, pageOf(name, 'md'))), pageOf(name, 'md')).toBe(true);
      expect(read('index.html').includes(`>${name}</a>`) || model.messages.find((m) => m.name === name)?.extension !== undefined, `index lists ${name}`).toBe(true);
    }
    const states = read('states.html');
    const statesMd = read('markdown/states.md');
    const svg = read('states.svg');
    for (const s of model.stateMachine.states) {
      expect(states).toContain(`id="state-${s.name}"`);
      expect(statesMd).toContain(`<a id="state-${s.name}"></a>`);
      expect(svg).toContain(`<title>${s.name}</title>`);
    }
  });

  it('puts extension messages in their own section, marked as extensions', () => {
    const ext = built.model.extensions[0]!;
    const page = read(`extensions/${ext.name}/ExtendProtocol.html`);
    expect(page).toContain('class="badge extension"');
    expect(read(`extensions/${ext.name}/index.html`)).toContain('ExtendProtocol.html');
    expect(read('extensions/index.html')).toContain(ext.title.replace(/'/g, '&#x27;'));
  });

  it('shows the states a message may be sent in, including anytime, and what may follow', () => {
    const bind = read('messages/Bind.html');
    expect(bind).toMatch(/<a href="\.\.\/states\.html#state-Ready">Ready<\/a><\/td><td>frontend<\/td><td>accept/);
    expect(bind).toContain('What may follow');
    const notice = read('messages/NoticeResponse.html');
    expect(notice).toContain('at any time</strong> in every state of the command and copy phases');
  });

  it('shows each interface exactly as generated/messages.ts declares it', () => {
    const { model } = built;
    const generated = [join(PACKAGE_ROOT, 'generated', 'messages.ts'), ...model.extensions.map((e) => join(PACKAGE_ROOT, 'generated', 'extensions', e.name, 'messages.ts'))]
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    for (const m of model.messages) {
      const text = messageInterface(m, model);
      expect(generated, m.name).toContain(text);
      expect(unescapeHtml(read(pageOf(m.name, 'html'))), m.name).toContain(text);
    }
    for (const s of model.structs) expect(generated, s.name).toContain(structInterface(s, model));
    for (const r of model.replies) expect(generated, r.name).toContain(replyInterface(r));
  });

  it('links only to files and anchors that exist (HTML, Markdown and the API reference)', () => {
    const broken: string[] = [];
    const idCache = new Map<string, Set<string>>();
    const idsOf = (file: string): Set<string> => {
      let ids = idCache.get(file);
      if (!ids) {
        const text = readFileSync(file, 'utf8');
        ids = new Set([...text.matchAll(/\b(?:id|name)="([^"]+)"/g)].map((m) => unescapeHtml(m[1]!)));
        idCache.set(file, ids);
      }
      return ids;
    };
    const check = (from: string, raw: string): void => {
      const href = unescapeHtml(raw);
      if (/^(https?:|mailto:|javascript:|data:)/.test(href)) {
        if (!from.includes(`${join(site, 'api')}`)) broken.push(`${relative(site, from)} -> ${href} (external link in a generated page)`);
        return;
      }
      const [path, hash] = href.split('#') as [string, string | undefined];
      const target = path === '' ? from : resolve(dirname(from), decodeURIComponent(path));
      if (!existsSync(target)) {
        broken.push(`${relative(site, from)} -> ${href}`);
        return;
      }
      if (hash && /\.(html|md)$/.test(target) && !idsOf(target).has(decodeURIComponent(hash))) broken.push(`${relative(site, from)} -> ${href} (no anchor)`);
    };
    const html = filesUnder(site, '.html');
    for (const f of html) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\b(?:href|src|xlink:href)="([^"]*)"/g)) check(f, m[1]!);
    }
    const md = filesUnder(join(site, 'markdown'), '.md');
    for (const f of md) {
      const text = readFileSync(f, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) check(f, m[1]!);
    }
    expect(html.length).toBeGreaterThan(100);
    expect(md.length).toBeGreaterThan(50);
    expect(broken).toEqual([]);
  });

  it('links message pages to the TypeDoc API reference', () => {
    const bind = read('messages/Bind.html');
    expect(bind).toMatch(/href="\.\.\/api\/interfaces\/[^"]*Bind\.html"/);
    expect(bind).toMatch(/href="\.\.\/api\/functions\/[^"]*encodeBind\.html"/);
    expect(existsSync(join(site, 'api', 'index.html'))).toBe(true);
  });
});

interface ExampleData {
  message: string;
  framing: 'typed' | 'startup' | 'reply';
  checked: boolean;
  hex: string;
  protocolVersion: number;
  instance: unknown;
  spans: [number, number, string][];
  directions: ('frontend' | 'backend')[];
  contextual?: Record<string, string>;
  expectReply?: string;
  extension: string | null;
}

async function tableFor(direction: 'frontend' | 'backend', extension: string | null): Promise<DirectionTable<unknown>> {
  const base = (direction === 'frontend' ? FRONTEND_TABLE : BACKEND_TABLE) as DirectionTable<unknown>;
  if (!extension) return base;
  const mod = (await import(pathToFileURL(join(PACKAGE_ROOT, 'generated', 'extensions', extension, 'index.ts')).href)) as Record<string, unknown>;
  const bundle = Object.values(mod).find((v): v is { frontendTyped: { byte: number; entry: TypedEntry<unknown> }[]; backendTyped: { byte: number; entry: TypedEntry<unknown> }[] } => typeof v === 'object' && v !== null && 'backendTyped' in v)!;
  const typed = [...base.typed];
  for (const { byte, entry } of direction === 'frontend' ? bundle.frontendTyped : bundle.backendTyped) typed[byte] = entry;
  return { ...base, typed };
}

describe('annotated hex examples', () => {
  it('decode back, with the generated decoders, to the example instance', async () => {
    const { model } = built;
    const names = [...model.messages.map((m) => m.name), ...model.replies.map((r) => r.name)];
    for (const name of names) {
      const page = read(pageOf(name, 'html'));
      const json = /<script type="application\/json" class="example-data">([\s\S]*?)<\/script>/.exec(page)?.[1];
      expect(json, `${name} has example data`).toBeDefined();
      const data = JSON.parse(json!) as ExampleData;
      expect(data.checked, `${name}: bytes equal the generated encoder's`).toBe(true);
      const bytes = Buffer.from(data.hex, 'hex');
      // The labelled ranges cover every byte once, in order.
      let at = 0;
      for (const [start, end] of data.spans) {
        expect(start, `${name} span at ${start}`).toBe(at);
        at = end;
      }
      expect(at, `${name} spans cover the message`).toBe(bytes.length);
      for (const direction of data.directions) {
        const decoder = new StreamDecoder(await tableFor(direction, data.extension), {
          framing: data.framing === 'startup' ? 'startup' : 'typed',
          context: { protocolVersion: data.protocolVersion, contextual: data.contextual },
        });
        if (data.expectReply) decoder.expectReply = data.expectReply;
        decoder.push(bytes);
        const decoded = decoder.next();
        expect(decoder.buffered, `${name} consumed exactly`).toBe(0);
        expect(toPlain(decoded), `${name} (${direction})`).toEqual(data.instance);
      }
    }
  });
});

describe('rebuilding after a spec change', () => {
  it('shows a changed field doc on the message page', async () => {
    const spec = join(tmp, 'spec');
    cpSync(SPEC, spec, { recursive: true });
    const file = join(spec, 'protocol', 'frontend.yaml');
    const before = 'The portal to create; the empty string is the unnamed portal.';
    const after = 'Portal name changed by the docs test, 7f3a.';
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(before);
    writeFileSync(file, text.replace(before, after));
    const out = join(tmp, 'site-changed');
    await buildDocs({ specs: [spec], out, api: false });
    const page = readFileSync(join(out, 'messages', 'Bind.html'), 'utf8');
    expect(page).toContain(after);
    expect(page).not.toContain(before);
    expect(readFileSync(join(out, 'markdown', 'messages', 'Bind.md'), 'utf8')).toContain(after);
    expect(read('messages/Bind.html')).toContain(before);
  }, 60_000);
});

describe('in a headless browser', () => {
  const haveChromium = existsSync(CHROMIUM);
  if (!haveChromium) {
    if (process.env.CI === 'true') {
      it('needs chromium under CI', () => {
        throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (scripts/install-system-deps.sh)`);
      });
      return;
    }
    console.log(`docs browser test skipped: ${CHROMIUM} not found; apt-get install -y chromium`);
  }

  it.skipIf(!haveChromium)('renders the index, a message page and the state diagram from disk, and searches', async () => {
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'pgspec-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    const problems: string[] = [];
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
      });
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('request', (req) => {
        if (!req.url().startsWith('file://')) problems.push(`network request: ${req.url()}`);
      });
      page.on('requestfailed', (req) => problems.push(`failed to load: ${req.url()}`));
      const url = (rel: string): string => pathToFileURL(join(site, rel)).href;

      await page.goto(url('index.html'));
      expect(await page.locator('h1').first().textContent()).toContain('PostgreSQL');
      expect(await page.locator('table.index a').count()).toBeGreaterThan(40);

      await page.fill('#search', 'Bind');
      const first = page.locator('#search-results li a').first();
      await first.waitFor({ state: 'visible' });
      expect(await first.locator('span').first().textContent()).toBe('Bind');
      expect(await first.getAttribute('href')).toBe('messages/Bind.html');
      await page.press('#search', 'Enter');
      await page.waitForURL(/messages\/Bind\.html$/);

      expect(await page.locator('h1').textContent()).toContain('Bind');
      expect(await page.locator('table.hex tbody tr').count()).toBeGreaterThan(5);
      expect(await page.locator('.layout .box').count()).toBeGreaterThan(5);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'docs-message-Bind.png'), fullPage: true });

      await page.goto(url('states.html'));
      const nodes = page.locator('.diagram svg g.node');
      expect(await nodes.count()).toBeGreaterThanOrEqual(built.model.stateMachine.states.length);
      const box = await page.locator('.diagram svg').boundingBox();
      expect(box && box.width > 300 && box.height > 300).toBe(true);
      await page.locator('#svg-state-Ready a').first().click();
      await page.waitForURL(/#state-Ready$/);
      await page.screenshot({ path: join(ARTIFACTS, 'docs-states.png') });
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
    expect(problems).toEqual([]);
  }, 60_000);
});
