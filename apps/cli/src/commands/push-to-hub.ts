import { Flags } from '@oclif/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadProgress } from '@openclip/train/progress';
import { BaseCommand } from '../base-command.js';

export interface PushResult {
  repoId: string | null;
  files: string[];
  uploaded: boolean;
  repoUrl: string | null;
  commit: string | null;
}

export default class PushToHub extends BaseCommand<PushResult> {
  /** The name users type after OpenCLIP's `push_to_hf_hub` docs. */
  static override aliases = ['push-hub'];
  static override summary = 'Write a model in OpenCLIP\'s Hugging Face Hub format and upload it (open_clip.push_to_hf_hub)';
  static override description =
    'Writes open_clip_model.safetensors, open_clip_config.json (model_cfg + preprocess_cfg), the tokenizer files of models with a Hugging Face tokenizer (from the local cache) and a model card README.md, then creates the repo if needed and commits them with HF_TOKEN. ' +
    'With --output-dir the folder is written there and nothing is uploaded. HF_ENDPOINT points at another Hub.';
  static override examples = [
    'HF_TOKEN=hf_... <%= config.bin %> push-to-hub --model ViT-Tiny-8-64-demo --pretrained logs/demo/checkpoints/epoch_8.safetensors --repo-id me/tiny-shapes-clip',
    '<%= config.bin %> push-to-hub --model ViT-B-32 --pretrained epoch_32.safetensors --output-dir export/vit-b-32',
  ];
  static override flags = {
    model: Flags.string({ description: 'built-in model name or model-config JSON', required: true }),
    pretrained: Flags.string({ description: 'checkpoint file (ours or OpenCLIP\'s), tag, hf-hub: or local-dir:', required: true }),
    'repo-id': Flags.string({ description: 'Hub repository org/name' }),
    private: Flags.boolean({ description: 'create the repository as private' }),
    'commit-message': Flags.string({ description: 'commit message', default: 'Add model' }),
    'output-dir': Flags.string({ description: 'write the folder here and do not upload' }),
    'cache-dir': Flags.string({ description: 'Hugging Face cache for the pretrained weights and the HF tokenizer (default: HF_HUB_CACHE / HF_HOME)' }),
  };

  async run(): Promise<PushResult> {
    const { flags } = await this.parse(PushToHub);
    if (!flags['output-dir'] && !flags['repo-id']) this.error('give --repo-id org/name to upload, or --output-dir DIR to only write the folder', { exit: 2 });
    await this.startEngine(flags.backend as string | undefined, { quiet: this.jsonEnabled() });
    const { createModelAndTransforms, getTokenizerAsync } = await import('@openclip/models');
    const { writeHubFolder, pushFolderToHub } = await import('@openclip/models/hub');
    const dir = flags['output-dir'] ?? mkdtempSync(join(tmpdir(), 'openclip-push-'));
    try {
      const dl = downloadProgress({ enabled: !this.jsonEnabled() && Boolean(process.stderr.isTTY) });
      const built = await createModelAndTransforms(flags.model, { pretrained: flags.pretrained, cacheDir: flags['cache-dir'], onDownloadProgress: dl.onDownloadProgress }).finally(dl.stop);
      await getTokenizerAsync(flags.model, { cacheDir: flags['cache-dir'] }); // fetches an HF tokenizer into the cache: the folder carries its files
      const modelName = flags.model.replace(/^.*[\\/]/, '').replace(/\.json$/, '');
      const files = writeHubFolder(built.model, dir, { modelName, preprocessCfg: built.preprocessCfg, source: built.checkpoint, repoId: flags['repo-id'], cacheDir: flags['cache-dir'] });
      built.model.dispose();
      if (flags['output-dir']) return this.finish({ repoId: flags['repo-id'] ?? null, files, uploaded: false, repoUrl: null, commit: null });
      const r = await pushFolderToHub(files, { repoId: flags['repo-id']!, private: flags.private, commitMessage: flags['commit-message'] });
      return this.finish({ repoId: flags['repo-id']!, files: files.map((f) => f.replace(/^.*[\\/]/, '')), uploaded: true, repoUrl: r.repoUrl, commit: r.commit });
    } catch (e) {
      return this.error((e as Error).message, { exit: 1 }) as never;
    } finally {
      if (!flags['output-dir']) rmSync(dir, { recursive: true, force: true });
    }
  }

  protected render(r: PushResult): void {
    if (!r.uploaded) this.log(`wrote ${r.files.join(', ')}`);
    else this.log(`uploaded ${r.files.join(', ')} to ${r.repoUrl} (commit ${r.commit})`);
  }
}
