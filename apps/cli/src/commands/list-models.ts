/**
 * `openclip list-models`: OpenCLIP's `list_models()` (the model-config registry) with each
 * model's pretrained tags. Imports only the tensor-free registries (`@openclip/models/pretrained`),
 * not TensorFlow.js, so it extends oclif's Command rather than BaseCommand and starts at once.
 */
import { Command, Flags } from '@oclif/core';
import { addModelConfig, listModels, listPretrainedTagsByModel } from '@openclip/models/pretrained';

export interface ListModelsResult {
  models: { name: string; pretrained: string[] }[];
}

export default class ListModels extends Command {
  static override enableJsonFlag = true;
  static override summary = 'List the model configs openclip knows (built-in and added), with their pretrained tags';
  static override examples = ['<%= config.bin %> list-models', '<%= config.bin %> list-models --filter coca --json', '<%= config.bin %> list-models --add-config my-configs/'];

  static override flags = {
    filter: Flags.string({ description: 'Only names containing this text (case-insensitive)' }),
    'add-config': Flags.string({ description: 'A model-config JSON file or a folder of them to register first (OpenCLIP add_model_config)', multiple: true }),
    'with-pretrained': Flags.boolean({ description: 'Only models with registered pretrained weights', default: false }),
  };

  async run(): Promise<ListModelsResult> {
    const { flags } = await this.parse(ListModels);
    try {
      for (const p of flags['add-config'] ?? []) addModelConfig(p);
    } catch (e) {
      this.error((e as Error).message, { exit: 2 });
    }
    const needle = flags.filter?.toLowerCase();
    const models = listModels()
      .filter((n) => !needle || n.toLowerCase().includes(needle))
      .map((name) => ({ name, pretrained: listPretrainedTagsByModel(name) }))
      .filter((m) => !flags['with-pretrained'] || m.pretrained.length > 0);
    if (!this.jsonEnabled()) this.render({ models });
    return { models };
  }

  private render(r: ListModelsResult): void {
    if (r.models.length === 0) {
      this.log('no models match');
      return;
    }
    const width = Math.max(...r.models.map((m) => m.name.length));
    for (const m of r.models) this.log(m.pretrained.length ? `${m.name.padEnd(width)}  ${m.pretrained.join(', ')}` : m.name);
  }
}
