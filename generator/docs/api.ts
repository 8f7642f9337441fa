/**
 * The generated codecs and the runtime, documented from their types and doc comments by TypeDoc,
 * into `<out>/api/`. Returns where each documented symbol's page is, so message pages can link
 * to their interface, encoder and decoder.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

export interface ApiResult {
  /** Symbol name → page path relative to the site root ("api/interfaces/generated.Bind.html"). */
  readonly pages: ReadonlyMap<string, string>;
  /** Why the API docs were not built, if they were not. */
  readonly skipped?: string;
}

/** The entry points: the generated bundles and the runtime's public modules. */
export function apiEntryPoints(root: string): string[] {
  const out: string[] = [];
  const gen = join(root, 'generated', 'index.ts');
  if (existsSync(gen)) out.push(gen);
  const extDir = join(root, 'generated', 'extensions');
  if (existsSync(extDir)) {
    for (const name of readdirSync(extDir).sort()) {
      const p = join(extDir, name, 'index.ts');
      if (existsSync(p)) out.push(p);
    }
  }
  const runtimeIndex = join(root, 'runtime', 'index.ts');
  if (existsSync(runtimeIndex)) out.push(runtimeIndex);
  else if (existsSync(join(root, 'runtime'))) {
    for (const name of readdirSync(join(root, 'runtime')).sort()) {
      const p = join(root, 'runtime', name);
      if (statSync(p).isDirectory() && existsSync(join(p, 'index.ts'))) out.push(join(p, 'index.ts'));
    }
  }
  return out;
}

export async function buildApiDocs(root: string, siteDir: string): Promise<ApiResult> {
  const entryPoints = apiEntryPoints(root);
  if (entryPoints.length === 0) return { pages: new Map(), skipped: `no TypeScript sources under ${root}` };
  let typedoc: typeof import('typedoc');
  try {
    typedoc = await import('typedoc');
  } catch {
    return { pages: new Map(), skipped: 'typedoc is not installed (it is a development dependency of pgspec)' };
  }
  const apiDir = join(siteDir, 'api');
  // A tsconfig naming only the entry points keeps TypeDoc from compiling tests and benchmarks.
  const tmp = mkdtempSync(join(tmpdir(), 'pgspec-typedoc-'));
  try {
    const tsconfig = join(tmp, 'tsconfig.json');
    writeFileSync(tsconfig, JSON.stringify({ extends: join(root, 'tsconfig.json'), compilerOptions: { noEmit: true }, include: [], files: entryPoints }));
    const app = await typedoc.Application.bootstrapWithPlugins({
      entryPoints,
      tsconfig,
      name: 'pgspec API',
      readme: 'none',
      out: apiDir,
      skipErrorChecking: true,
      validation: { notExported: false, invalidLink: false, notDocumented: false },
      excludePrivate: true,
      excludeInternal: true,
      disableSources: true,
      hideGenerator: true,
      cleanOutputDir: true,
      githubPages: false,
      logLevel: 'Warn',
      plugin: [],
    });
    const project = await app.convert();
    if (!project) return { pages: new Map(), skipped: 'TypeDoc could not convert the sources' };
    await app.generateDocs(project, apiDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { pages: indexPages(apiDir, siteDir) };
}

/** Symbol pages by name. A name documented in several modules keeps the first (the base bundle sorts first). */
function indexPages(apiDir: string, siteDir: string): Map<string, string> {
  const pages = new Map<string, string>();
  const kinds = ['interfaces', 'functions', 'classes', 'types', 'variables', 'enums'];
  for (const kind of kinds) {
    const dir = join(apiDir, kind);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).sort(byModule)) {
      const name = file.replace(/\.html$/, '').split('.').pop()!;
      if (!pages.has(name)) pages.set(name, relative(siteDir, join(dir, file)).split(sep).join('/'));
    }
  }
  return pages;
}

/** Base bundle pages before extension pages, so a shared name points at the base protocol. */
function byModule(a: string, b: string): number {
  const rank = (f: string): number => (f.startsWith('generated.') || f.startsWith('generated_index.') ? 0 : f.includes('extensions') ? 2 : 1);
  return rank(a) - rank(b) || a.localeCompare(b);
}
