import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A fenced code block of a Markdown page. */
export interface DocBlock {
  /** The page, relative to the repository root. */
  file: string;
  /** Line of the opening fence, 1-based. */
  line: number;
  /** `sh`, `bash`, `js`, `ts`, … (the info string's first word). */
  lang: string;
  /**
   * The info string's other words. `deploy`: needs Docker, a cluster or a cloud project;
   * `manual`: runs until stopped or for minutes (npm start, simulate, live views).
   */
  markers: string[];
  code: string;
}

export const SHELL = ['sh', 'bash', 'shell'];
export const SCRIPT = ['js', 'ts', 'javascript', 'typescript'];
/** Why a block is listed but not run. */
export const SKIP_MARKERS = ['deploy', 'manual'] as const;

/** README.md and every page in docs/, in that order. */
export function docPages(root: string): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort();
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

/** Every fenced block of the pages, in document order. */
export function docBlocks(root: string, pages = docPages(root)): DocBlock[] {
  const blocks: DocBlock[] = [];
  for (const file of pages) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
      if (!open) continue;
      const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
      if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code block`);
      const [lang = '', rest = ''] = [open[1], open[2]];
      blocks.push({ file, line: i + 1, lang, markers: rest.split(/\s+/).filter(Boolean), code: lines.slice(i + 1, end).join('\n') });
      i = end;
    }
  }
  return blocks;
}

/** The blocks the examples test is about: shell and JS/TS. */
export const isExample = (b: DocBlock) => SHELL.includes(b.lang) || SCRIPT.includes(b.lang);
/** The reason a block is not run, or null when it is. */
export const skipReason = (b: DocBlock) => SKIP_MARKERS.find((m) => b.markers.includes(m)) ?? null;
