import { timmCases, timmHybridFixturesDir } from './timm-fixtures.test-helper.js';
import { timmParitySuite } from './timm-parity.test-helper.js';

// Parity of the timm hybrid towers (ViTamin, MobileCLIP) with OpenCLIP 3.1.0 + timm 1.0.28 on the fixtures of
// tools/fixtures/timm_hybrid_towers.py (checks in timm-parity.test-helper.ts).

const { cases, skip } = timmCases(timmHybridFixturesDir(), 'tools/fixtures/timm_hybrid_towers.py');
timmParitySuite('timm hybrid tower', cases, skip);
