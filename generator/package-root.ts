/** Where pgspec's own files are: the directory of its package.json, from source or from dist/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory of pgspec's package.json (the repo root, or the installed package when run from dist/). */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'spec'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`pgspec: cannot find the package root above ${from}`);
    dir = up;
  }
  return dir;
}
