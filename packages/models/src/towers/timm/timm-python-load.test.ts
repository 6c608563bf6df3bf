import { timmCases } from './timm-fixtures.test-helper.js';
import { timmPythonLoadTest } from './timm-python-load.test-helper.js';

// Trained timm transformer towers load in Python (timm-python-load.test-helper.ts).
const { cases, skip } = timmCases();
timmPythonLoadTest('timm-tower', cases, skip, 'tools/fixtures/timm_towers.py');
