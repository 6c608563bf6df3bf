/**
 * OpenCLIP's create_model compatibility check: a built-in model config whose final `quick_gelu`
 * (after --force-quick-gelu) differs from the activation the pretrained tag was trained with
 * gives a UserWarning, since the weights then run with the wrong activation.
 */
import { getPretrainedCfg } from '../pretrained/pretrained.js';

/** The warning text when the tag's quick_gelu differs from the model's, else null. */
export function quickGeluMismatch(model: string, pretrained: string, modelQuickGelu: boolean): string | null {
  const cfg = getPretrainedCfg(model, pretrained);
  if (!cfg) return null; // a file, hf-hub: or local-dir: source carries its own config
  const tagQuickGelu = cfg.quick_gelu ?? false;
  if (tagQuickGelu === modelQuickGelu) return null;
  const py = (b: boolean) => (b ? 'True' : 'False');
  return `QuickGELU mismatch between final model config (quick_gelu=${py(modelQuickGelu)}) and pretrained tag '${pretrained}' (quick_gelu=${py(tagQuickGelu)}).`;
}
