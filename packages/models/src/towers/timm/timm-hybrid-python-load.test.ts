import { timmCases, timmHybridFixturesDir } from './timm-fixtures.test-helper.js';
import { timmPythonLoadTest } from './timm-python-load.test-helper.js';

// Trained timm hybrid towers (ViTamin, MobileCLIP) load in Python (timm-python-load.test-helper.ts).
const { cases, skip } = timmCases(timmHybridFixturesDir(), 'tools/fixtures/timm_hybrid_towers.py');
timmPythonLoadTest('timm hybrid tower', cases, skip, 'tools/fixtures/timm_hybrid_towers.py');
