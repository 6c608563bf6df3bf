/**
 * Remote URLs (s3://, gs://, ...) that OpenCLIP reads through fsspec / the aws CLI and openclip-ts
 * does not: each is refused at start with the URL exactly as given and the way to do the same
 * thing here (copy first, sync afterwards, or stream shards with `pipe:`).
 */
const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

function remoteScheme(value: string): string | null {
  const m = SCHEME.exec(value.trim());
  if (!m) return null;
  const s = m[1].toLowerCase();
  return s === 'file' ? null : s;
}

function copyCommand(scheme: string, url: string, to: string): string {
  if (scheme === 's3') return `aws s3 cp ${url} ${to}`;
  if (scheme === 'gs' || scheme === 'gcs') return `gcloud storage cp ${url} ${to}`;
  return `rclone copy ${url} ${to}`;
}

function streamCommand(scheme: string, url: string): string {
  if (scheme === 's3') return `pipe:aws s3 cp ${url} -`;
  if (scheme === 'gs' || scheme === 'gcs') return `pipe:gcloud storage cat ${url}`;
  return `pipe:rclone cat ${url}`;
}

/** The problems of the given path-valued parameters (flag name without dashes -> value). */
export function remotePathProblems(values: Record<string, string | null | undefined>): string[] {
  const problems: string[] = [];
  for (const [flag, value] of Object.entries(values)) {
    if (!value) continue;
    if (flag === 'train-data' || flag === 'val-data') {
      for (const source of value.split('::')) {
        const scheme = remoteScheme(source);
        if (!scheme || scheme === 'http' || scheme === 'https') continue; // http(s) shards stream natively
        problems.push(`--${flag} ${source}: ${scheme}:// shards are not opened directly; stream each shard through a pipe, e.g. --${flag} '${streamCommand(scheme, source)}'`);
      }
      continue;
    }
    const scheme = remoteScheme(value);
    if (!scheme) continue;
    if (flag === 'resume' || flag === 'pretrained' || flag === 'distill-pretrained') {
      if (flag !== 'resume' && (scheme === 'http' || scheme === 'https')) continue;
      const name = value.replace(/\/+$/, '').split('/').pop() || 'checkpoint';
      problems.push(`--${flag} ${value}: remote checkpoints are not read directly; copy it first (${copyCommand(scheme, value, `./${name}`)}) and pass ./${name}`);
    } else if (flag === 'logs') {
      problems.push(`--logs ${value}: the run folder must be local; use --logs ./logs and copy it afterwards (${scheme === 's3' ? `aws s3 sync ./logs ${value}` : `rclone sync ./logs ${value}`})`);
    } else if (flag === 'remote-sync') {
      problems.push(`--remote-sync ${value}: openclip-ts does not sync while training; sync the run folder yourself (${scheme === 's3' ? `aws s3 sync ./logs/<name> ${value}/<name>` : `rclone sync ./logs/<name> ${value}/<name>`})`);
    } else {
      problems.push(`--${flag} ${value}: must be a local folder; copy it first (${copyCommand(scheme, value, './data')})`);
    }
  }
  return problems;
}
