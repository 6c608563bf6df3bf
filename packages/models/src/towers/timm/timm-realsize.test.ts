import { timmRealsizeTest } from './timm-realsize.test-helper.js';

// Real-size timm transformer towers against upstream with random weights (timm-realsize.test-helper.ts).
const MODELS = (process.env.OPENCLIP_TIMM_REALSIZE_MODELS ?? 'ViT-B-16-SigLIP,ViT-B-16-SigLIP2,EVA02-B-16,PE-Core-B-16').split(',');
timmRealsizeTest(MODELS);
