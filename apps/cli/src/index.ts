// @openclip/cli: the `openclip` command. Thin: commands parse flags, call the packages, print.
export { BaseCommand } from './base-command.js';
export * as flags from './flags.js';
