/** Flag builders shared by every command, defined once with OpenCLIP's names and defaults. */
import { Flags } from '@oclif/core';
import { BACKEND_NAMES } from '@openclip/engine';

export const backend = Flags.custom<string>({
  description: `TensorFlow.js backend: auto or one of ${BACKEND_NAMES.join(', ')} (default: $OPENCLIP_BACKEND, else auto)`,
  helpGroup: 'ENGINE',
  options: ['auto', ...BACKEND_NAMES],
});
