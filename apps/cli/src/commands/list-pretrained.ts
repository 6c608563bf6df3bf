/**
 * `openclip list-pretrained`: OpenCLIP's `list_pretrained()` registry, with whether each
 * (model, tag) runs here (native towers) and whether its weights are already in the Hugging Face
 * cache. Imports only the tensor-free registry (`@openclip/models/pretrained`), not TensorFlow.js,
 * so it extends oclif's Command rather than BaseCommand.
 */
import { Command, Flags } from '@oclif/core';
import { HF_WEIGHTS_NAME, hfHubCacheDir, lookupCache, nearestNames, safeAlternatives } from '@openclip/common';
import { listPretrainedInfo, type PretrainedInfo } from '@openclip/models/pretrained';

export interface ListPretrainedRow {
  model: string;
  tag: string;
  hf_hub_id: string;
  runnable: boolean;
  cached: boolean;
  /** What a non-runnable pair needs (timm tower, HF text model, ...). */
  needs?: string;
}

/** The weight files OpenCLIP would look for, safetensors first. */
function candidateFiles(info: PretrainedInfo): string[] {
  const f = info.hf_filename ?? HF_WEIGHTS_NAME;
  return [...safeAlternatives(f), f];
}

function isCached(info: PretrainedInfo, cacheDir: string): boolean {
  return candidateFiles(info).some((f) => lookupCache(info.hf_hub_id, f, { cacheDir }).status === 'cached');
}

/** Models whose names contain `name` (or are contained in it), else the five nearest by edit distance. */
function suggestions(name: string, models: string[]): string[] {
  const q = name.toLowerCase();
  const contains = models.filter((m) => m.toLowerCase().includes(q) || q.includes(m.toLowerCase()));
  if (contains.length) return contains.slice(0, 8);
  return nearestNames(name, models, { limit: 5, ties: 'given' });
}

export default class ListPretrained extends Command {
  static override summary = 'List the pretrained (model, tag) pairs of OpenCLIP 3.1.0, whether each runs here and whether it is cached';
  static override description =
    'Every pair of OpenCLIP\'s pretrained registry is listed, including those whose towers (timm, Hugging Face text models) openclip-ts does not implement; ' +
    '"cached" means the weights are already in the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub), shared with Python. ' +
    'Pairs with a Hugging Face tokenizer (CLIPA, MetaCLIP 2 worldwide) fetch it on first use; with HF_HUB_OFFLINE=1 they are runnable only when it is cached.';
  static override examples = [
    '<%= config.bin %> list-pretrained',
    '<%= config.bin %> list-pretrained --model ViT-B-32',
    '<%= config.bin %> list-pretrained --runnable --json',
  ];
  static override enableJsonFlag = true;

  static override flags = {
    model: Flags.string({ description: 'Only the tags of this model (exact name, as OpenCLIP list_pretrained_tags_by_model)' }),
    runnable: Flags.boolean({ description: 'Only pairs that run in openclip-ts', default: false }),
    'cache-dir': Flags.string({ description: 'Hugging Face cache folder to check (default: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)' }),
  };

  async run(): Promise<ListPretrainedRow[]> {
    const { flags } = await this.parse(ListPretrained);
    const cacheDir = hfHubCacheDir(flags['cache-dir']);
    const all = listPretrainedInfo({ cacheDir });
    let infos = all;
    if (flags.model !== undefined) {
      infos = all.filter((r) => r.model === flags.model);
      if (infos.length === 0) {
        const models = [...new Set(all.map((r) => r.model))];
        this.error(`no pretrained weights are registered for model '${flags.model}'; did you mean: ${suggestions(flags.model, models).join(', ')}?`, { exit: 2 });
      }
    }
    if (flags.runnable) infos = infos.filter((r) => r.runnable);
    const rows: ListPretrainedRow[] = infos.map((r) => ({
      model: r.model,
      tag: r.tag,
      hf_hub_id: r.hf_hub_id,
      runnable: r.runnable,
      cached: isCached(r, cacheDir),
      ...(r.needs ? { needs: r.needs } : {}),
    }));
    if (!this.jsonEnabled()) this.render(rows, cacheDir);
    return rows;
  }

  private render(rows: ListPretrainedRow[], cacheDir: string): void {
    const head = ['MODEL', 'TAG', 'HF HUB', 'RUNNABLE', 'CACHED'];
    const cells = rows.map((r) => [r.model, r.tag, r.hf_hub_id, r.runnable ? 'yes' : `no (${r.needs ?? 'unsupported'})`, r.cached ? 'yes' : 'no']);
    const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (i === 3 ? Math.min(c[i].length, 8) : c[i].length))));
    const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]))).join('  ');
    this.log(line(head));
    for (const c of cells) this.log(line(c));
    const runnable = rows.filter((r) => r.runnable).length;
    const cached = rows.filter((r) => r.cached).length;
    this.log(`\n${rows.length} ${rows.length === 1 ? 'pair' : 'pairs'}, ${runnable} runnable here, ${cached} cached in ${cacheDir}`);
  }
}
