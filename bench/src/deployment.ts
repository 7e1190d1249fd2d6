import { mkdtempSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import type { BenchContext } from './context.js'
import { freePort, type RunningSystem, startSystem } from './server-process.js'
import type { SystemSpec } from './systems.js'

/**
 * What a workload measures: one system started as one or more server processes (instances), and the services they
 * share (the cluster workload's Redis and PostgreSQL). Clients are placed on `urls` by the workload.
 */
export interface Deployment {
  spec: SystemSpec
  instances: RunningSystem[]
  /** The instances' WebSocket base URLs, in order. */
  urls: string[]
  /** CPU seconds used so far by each instance. */
  instanceCpuSeconds(): number[]
  /** CPU seconds used so far by the services the instances share (Redis, PostgreSQL); 0 without any. */
  servicesCpuSeconds(): number
  /** Stops every instance (gracefully, as `RunningSystem.stop`). */
  stop(): Promise<void>
}

/** Starts a deployment of `spec` for one measurement; `label` names its data directories. */
export type Launcher = (ctx: BenchContext, spec: SystemSpec, label: string) => Promise<Deployment>

/** Every workload but the cluster one: a single process on core 0 with its own data directory. */
export const singleInstance: Launcher = async (ctx, spec, label) => {
  const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-${label}-`))
  return deploymentOf(spec, [await startSystem(spec, await freePort(), dataDir)], () => 0)
}

/**
 * `count` instances of `spec` sharing services through `env` (REDIS_URL, DATABASE_URL), instance i pinned to core
 * i mod the number of cores: on this 2-core machine the second instance shares core 1 with the load generator.
 */
export async function startInstances(
  ctx: BenchContext,
  spec: SystemSpec,
  label: string,
  count: number,
  env: Record<string, string>,
  servicesCpuSeconds: () => number,
): Promise<Deployment> {
  const instances: RunningSystem[] = []
  try {
    for (let i = 0; i < count; i++) {
      const dataDir = mkdtempSync(join(ctx.workDir, `${spec.id}-${label}-${i}-`))
      instances.push(await startSystem(spec, await freePort(), dataDir, { core: i % cpus().length, env }))
    }
  } catch (err) {
    await Promise.all(instances.map((instance) => instance.stop()))
    throw err
  }
  return deploymentOf(spec, instances, servicesCpuSeconds)
}

function deploymentOf(spec: SystemSpec, instances: RunningSystem[], servicesCpuSeconds: () => number): Deployment {
  return {
    spec,
    instances,
    urls: instances.map((instance) => instance.url),
    instanceCpuSeconds: () => instances.map((instance) => instance.cpuSeconds()),
    servicesCpuSeconds,
    stop: async () => {
      await Promise.all(instances.map((instance) => instance.stop()))
    },
  }
}

/** CPU use of a deployment over a window: per instance as a fraction of a core, and of the services in cores. */
export function startDeploymentCpuWindow(deployment: Deployment): () => {
  instances: number[]
  services: number
  servicesSeconds: number
  instancesSeconds: number
} {
  const wallStart = performance.now()
  const instancesStart = deployment.instanceCpuSeconds()
  const servicesStart = deployment.servicesCpuSeconds()
  return () => {
    const seconds = (performance.now() - wallStart) / 1000
    const used = deployment.instanceCpuSeconds().map((cpu, i) => cpu - instancesStart[i]!)
    const servicesSeconds = deployment.servicesCpuSeconds() - servicesStart
    return {
      instances: used.map((cpu) => (seconds > 0 ? cpu / seconds : 0)),
      services: seconds > 0 ? servicesSeconds / seconds : 0,
      servicesSeconds,
      instancesSeconds: used.reduce((sum, cpu) => sum + cpu, 0),
    }
  }
}
