/**
 * The little Markdown the hand-written pages use (headings, paragraphs, lists, tables, `code`,
 * **bold**, links), rendered to HTML; and the link scheme they share with the generated pages:
 * `message:Bind`, `state:Ready` and `page:states` are resolved by the caller per output format.
 */

export type LinkResolver = (target: string) => string;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Rewrites the `message:` / `state:` / `page:` link targets of Markdown text. */
export function resolveMarkdownLinks(md: string, resolve: LinkResolver): string {
  return md.replace(/\]\(((?:message|state|page):[^)\s]+)\)/g, (_, target: string) => `](${resolve(target)})`);
}

function inline(text: string, resolve: LinkResolver): string {
  const parts = text.split(/(`[^`]*`)/);
  return parts
    .map((p) => {
      if (p.startsWith('`') && p.endsWith('`') && p.length >= 2) return `<code>${esc(p.slice(1, -1))}</code>`;
      return esc(p)
        .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
        .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, label: string, target: string) => `<a href="${esc(resolve(target.replace(/&amp;/g, '&')))}">${label}</a>`);
    })
    .join('');
}

/** Renders the Markdown subset to HTML; the first heading is returned separately as the title. */
export function markdownToHtml(md: string, resolve: LinkResolver): { title: string; html: string } {
  const out: string[] = [];
  let title = '';
  const blocks = md.replace(/\r\n/g, '\n').split(/\n{2,}/);
  const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  for (const block of blocks) {
    const text = block.trim();
    if (text === '') continue;
    const heading = /^(#{1,4})\s+(.*)$/.exec(text);
    if (heading && !text.includes('\n')) {
      const level = heading[1]!.length;
      if (level === 1 && title === '') {
        title = heading[2]!;
        continue;
      }
      out.push(`<h${level} id="${slug(heading[2]!)}">${inline(heading[2]!, resolve)}</h${level}>`);
      continue;
    }
    const lines = text.split('\n');
    if (lines.length >= 2 && lines.every((l) => l.trim().startsWith('|')) && /^\|[\s:|-]+\|$/.test(lines[1]!.trim())) {
      const cells = (l: string): string[] => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
      const head = cells(lines[0]!).map((c) => `<th>${inline(c, resolve)}</th>`).join('');
      const body = lines.slice(2).map((l) => `<tr>${cells(l).map((c) => `<td>${inline(c, resolve)}</td>`).join('')}</tr>`);
      out.push(`<table><thead><tr>${head}</tr></thead><tbody>${body.join('')}</tbody></table>`);
      continue;
    }
    const bullet = /^(-|\d+\.)\s+/;
    if (bullet.test(lines[0]!)) {
      const ordered = /^\d+\./.test(lines[0]!);
      const items: string[] = [];
      for (const line of lines) {
        if (bullet.test(line)) items.push(line.replace(bullet, ''));
        else items[items.length - 1] += ` ${line.trim()}`;
      }
      const tag = ordered ? 'ol' : 'ul';
      out.push(`<${tag}>${items.map((i) => `<li>${inline(i, resolve)}</li>`).join('')}</${tag}>`);
      continue;
    }
    out.push(`<p>${inline(lines.map((l) => l.trim()).join(' '), resolve)}</p>`);
  }
  return { title, html: out.join('\n') };
}
