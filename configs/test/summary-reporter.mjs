// node:test reporter that writes one JSON object with the counts of leaf tests,
// so the root runner can add up every workspace into one closing line.
export default async function* summaryReporter(source) {
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0, failures: [] };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const d = event.data;
    if (d.details?.type === 'suite') {
      // A suite that fails outside its tests (a hook, an import) still counts as a failure.
      if (event.type === 'test:fail' && d.details?.error?.failureType !== 'subtestsFailed') {
        counts.failed++;
        counts.failures.push(`${d.file ?? ''} ${d.name}`);
      }
      continue;
    }
    if (d.skip) counts.skipped++;
    else if (d.todo) counts.todo++;
    else if (event.type === 'test:pass') counts.passed++;
    else {
      counts.failed++;
      counts.failures.push(`${d.file ?? ''} ${d.name}`);
    }
  }
  yield JSON.stringify(counts) + '\n';
}
