import { timmCases } from '../../../test-support/timm-fixtures.js';
import { timmPythonLoadTest } from '../../../test-support/timm-python-load.js';

// Trained timm towers of every fixture set (timm, timm-conv, timm-hybrid) load in Python (test-support/timm-python-load.ts).
const { cases, skip } = timmCases();
timmPythonLoadTest('timm-tower', cases, skip);
