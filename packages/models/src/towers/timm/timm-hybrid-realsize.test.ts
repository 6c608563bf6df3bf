import { timmRealsizeTest } from './timm-realsize.test-helper.js';

// Real-size timm hybrid towers (ViTamin, MobileCLIP) against upstream with random weights (timm-realsize.test-helper.ts).
const MODELS = (process.env.OPENCLIP_TIMM_HYBRID_REALSIZE_MODELS ?? 'ViTamin-S,MobileCLIP-S1').split(',');
timmRealsizeTest(MODELS);
