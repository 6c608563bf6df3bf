/**
 * `command_not_found` hook: @oclif/plugin-not-found asks "Did you mean …?" only on a terminal;
 * in scripts and CI (stdin not a TTY) this prints the closest command instead, so
 * `openclip trian` says `Did you mean train?` everywhere.
 */
import type { Hook } from '@oclif/core';
import { editDistance } from '@openclip/common';

const hook: Hook<'command_not_found'> = async function (opts) {
  if (process.stdin.isTTY) return; // the plugin's prompt handles terminals
  const ids = [...opts.config.commandIDs, ...opts.config.commands.flatMap((c) => c.aliases)];
  const best = ids
    .map((id) => ({ id, d: editDistance(opts.id, id) }))
    .sort((a, b) => a.d - b.d || a.id.localeCompare(b.id))[0];
  if (best && best.d <= Math.max(2, Math.floor(opts.id.length / 2))) process.stderr.write(`Did you mean ${best.id.replace(/:/g, ' ')}?\n`);
};

export default hook;
