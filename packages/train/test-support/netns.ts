/**
 * Private Linux network namespaces for multi-host tests: a hub namespace holding a bridge and one
 * namespace per rank, joined to the bridge by a veth pair, with addresses in a random 10.x.y.0/24
 * that exists only inside them. Nothing is routed outside; `remove()` ends every process left in
 * them and deletes every namespace (and with them their links). Needs root and iproute2's `ip`; `netnsUnavailable()` says why not.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why the namespace tests cannot run here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return "iproute2's `ip` is not installed";
  }
  const probe = `ocprobe${process.pid}`;
  try {
    ip(['netns', 'add', probe]);
    ip(['netns', 'del', probe]);
  } catch (e) {
    return `cannot create a network namespace here (${(e as Error).message.split('\n')[0]})`;
  }
  return null;
}

export interface NetnsWorld {
  /** Namespace of each rank. */
  names: string[];
  /** Address of each rank inside the private network. */
  addrs: string[];
  /** The interface name inside every rank's namespace. */
  dev: string;
  /** Takes rank `r`'s link down (inside its namespace). */
  linkDown(r: number): void;
  /**
   * The command that runs mpirun in the hub (which has an address on the bridge), placing one
   * rank on each namespace's address: Open MPI starts its daemons there through an rsh agent
   * that enters the namespace (`ip netns exec`) instead of ssh, each with its own session
   * directory, and its TCP transport is confined to the private network (no shared memory).
   */
  mpirun(np: number, command: string[]): string[];
  remove(): void;
}

export function createNetnsWorld(n: number): NetnsWorld {
  const tag = `oc${process.pid % 100000}${randomInt(100)}`;
  const hub = `${tag}hub`;
  const names = Array.from({ length: n }, (_, r) => `${tag}r${r}`);
  const net = `10.${randomInt(64, 250)}.${randomInt(1, 250)}`;
  const addrs = names.map((_, r) => `${net}.${r + 1}`);
  const created: string[] = [];
  let dir: string | null = null;
  const remove = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
    // every process still in the test's namespaces is the test's (ranks, Open MPI daemons): end them
    for (const ns of created) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
        for (const p of pids) process.kill(p, 'SIGKILL');
      } catch {
        /* namespace or process already gone */
      }
    }
    for (const ns of created.reverse()) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        /* already gone */
      }
    }
    created.length = 0;
  };
  try {
    ip(['netns', 'add', hub]);
    created.push(hub);
    ip(['-n', hub, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', hub, 'link', 'set', 'br0', 'up']);
    names.forEach((ns, r) => {
      ip(['netns', 'add', ns]);
      created.push(ns);
      // both ends are made in the rank's namespace, then one end moves to the hub
      ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `v${r}`]);
      ip(['-n', ns, 'link', 'set', `v${r}`, 'netns', hub]);
      ip(['-n', hub, 'link', 'set', `v${r}`, 'master', 'br0']);
      ip(['-n', hub, 'link', 'set', `v${r}`, 'up']);
      ip(['-n', ns, 'addr', 'add', `${addrs[r]}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    });
  } catch (e) {
    remove();
    throw e;
  }
  let hubAddressed = false;
  const mpirun = (np: number, command: string[]): string[] => {
    if (!hubAddressed) {
      ip(['-n', hub, 'addr', 'add', `${net}.254/24`, 'dev', 'br0']);
      ip(['-n', hub, 'link', 'set', 'lo', 'up']);
      hubAddressed = true;
    }
    dir ??= mkdtempSync(join(tmpdir(), 'ocnetns-'));
    const agent = join(dir, 'netns-agent.sh');
    const cases = addrs.map((a, r) => `${a}) ns=${names[r]} ;;`).join('\n');
    writeFileSync(agent, `#!/bin/sh\nhost="$1"; shift\ncase "$host" in\n${cases}\n*) echo "netns agent: unknown host $host" >&2; exit 1 ;;\nesac\nmkdir -p "${dir}/$ns"\nexec ip netns exec "$ns" env OMPI_MCA_orte_tmpdir_base="${dir}/$ns" sh -c "$*"\n`);
    chmodSync(agent, 0o755);
    const cidr = `${net}.0/24`;
    return ['netns', 'exec', hub, 'mpirun', '--allow-run-as-root', '--oversubscribe', '-np', String(np), '--host', addrs.slice(0, np).join(','), '--mca', 'plm_rsh_agent', agent, '--mca', 'oob_tcp_if_include', cidr, '--mca', 'btl', 'tcp,self', '--mca', 'btl_tcp_if_include', cidr, ...command];
  };
  return { names, addrs, dev: 'eth0', linkDown: (r) => ip(['-n', names[r], 'link', 'set', 'eth0', 'down']), mpirun, remove };
}
