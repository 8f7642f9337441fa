/** Shared command-line helpers of the pgspec subcommands. */

/** The value after a flag, or an error naming the flag. */
export function flagValue(argv: readonly string[], i: number, flag: string): string {
  const v = argv[i];
  if (v === undefined) throw new Error(`${flag} needs a value`);
  return v;
}
