import { timmCases } from './timm-fixtures.test-helper.js';
import { timmPythonLoadTest } from './timm-python-load.test-helper.js';

// Trained timm towers of every fixture set (timm, timm-conv, timm-hybrid) load in Python (timm-python-load.test-helper.ts).
const { cases, skip } = timmCases();
timmPythonLoadTest('timm-tower', cases, skip);
